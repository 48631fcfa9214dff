"""The verifier's inputs and its own reading of the preprocessing flags, against hand-computed
values: no OpenVINO, no source model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelzoo.verify import cut_names, output_names
from modelzoo.verify.errors import VerifierUnavailable
from modelzoo.verify.inputs import (InputRequest, generate, parse_spec, setting_for, static_shape,
                                    structured_image)
from modelzoo.verify.preprocess import Preprocessing, apply, parse_values, preprocessing_for


# -- the flags, read again -------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("[123.7,116.3,103.5]", {"": (123.7, 116.3, 103.5)}),
    ("(1 2 3)", {"": (1.0, 2.0, 3.0)}),
    ("data[255,255,255],info[1]", {"data": (255.0,) * 3, "info": (1.0,)}),
    ("input:0[127.5]", {"input:0": (127.5,)}),
    ([1, 2, 3], {"": (1.0, 2.0, 3.0)}),
    ({"data": [4, 5, 6]}, {"data": (4.0, 5.0, 6.0)}),
])
def test_parse_values_reads_mo_text_and_toml(raw, expected):
    assert parse_values(raw) == expected


@pytest.mark.parametrize("raw", ["123", "[1,2", "[]", "data[a,b]"])
def test_parse_values_rejects_what_is_not_a_value_list(raw):
    with pytest.raises(ValueError):
        parse_values(raw)


def test_onnx_input_reverses_then_subtracts_then_divides_on_axis_1():
    flags = {"mean_values": "[10,20,30]", "scale_values": "[2,4,8]", "reverse_input_channels": True}
    pre = preprocessing_for(flags, ["x"], (1, 3, 1, 2), "onnx")
    assert pre == Preprocessing(True, (10.0, 20.0, 30.0), (2.0, 4.0, 8.0), 1)
    raw = np.array([[[[0, 1]], [[100, 101]], [[200, 201]]]], np.float32)  # R, G, B planes
    got = apply(raw, pre)
    # channel order after reversing: B, G, R; then (x - mean[c]) / scale[c]
    expected = [[[[(200 - 10) / 2, (201 - 10) / 2]], [[(100 - 20) / 4, (101 - 20) / 4]],
                 [[(0 - 30) / 8, (1 - 30) / 8]]]]
    np.testing.assert_allclose(got, expected)


def test_tf_input_uses_the_last_axis():
    pre = preprocessing_for({"mean_values": [1, 2, 3], "scale": 2, "reverse_input_channels": "true"},
                            ["input:0"], (1, 1, 2, 3), "tf")
    assert pre.channel_axis == 3 and pre.scale == (2.0,)
    raw = np.array([[[[0, 10, 20], [30, 40, 50]]]], np.float32)
    np.testing.assert_allclose(apply(raw, pre), [[[[(20 - 1) / 2, (10 - 2) / 2, (0 - 3) / 2],
                                                   [(50 - 1) / 2, (40 - 2) / 2, (30 - 3) / 2]]]])


def test_named_values_go_to_their_input_only():
    flags = {"mean_values": "image[1,2,3],info[7]", "scale_values": "[10]"}
    image = preprocessing_for(flags, ["image"], (1, 3, 4, 4), "onnx")
    info = preprocessing_for(flags, ["info:0", "info"], (1, 1), "tf")
    other = preprocessing_for(flags, ["other"], (1, 3, 4, 4), "onnx")
    assert (image.mean, image.scale) == ((1.0, 2.0, 3.0), (10.0,))
    assert (info.mean, info.scale) == ((7.0,), (10.0,))
    assert (other.mean, other.scale) == (None, (10.0,))


def test_reverse_applies_to_three_channels_only():
    assert not preprocessing_for({"reverse_input_channels": True}, ["x"], (1, 1, 8, 8), "onnx").reverse
    assert preprocessing_for({"reverse_input_channels": True}, ["x"], (1, 3, 8, 8), "onnx").reverse


def test_values_that_do_not_fit_the_channels_are_an_error():
    with pytest.raises(ValueError, match="mean_values gives 2 values"):
        preprocessing_for({"mean_values": "[1,2]"}, ["x"], (1, 3, 8, 8), "onnx")


def test_input_and_output_names_of_mo_flags():
    assert cut_names("a[1 3],b->[5],c") == ("a", "b", "c")
    assert cut_names("map/TensorArrayStack/TensorArrayGatherV3") == ("map/TensorArrayStack/TensorArrayGatherV3",)
    assert output_names("x, y:1") == ("x", "y:1")


# -- inputs ----------------------------------------------------------------------------------
def request(shape, dtype="float32", pre=Preprocessing(channel_axis=1)):
    return InputRequest("x", frozenset({"x"}), dtype, tuple(shape), pre)


def test_preprocessed_image_gets_raw_structured_pixels():
    pre = Preprocessing(True, (127.5,), (127.5,), 1)
    value, how = generate(request((1, 3, 32, 32), pre=pre), None, seed=0)
    assert how == {"kind": "image", "low": 0.0, "high": 255.0}
    assert value.dtype == np.float32 and value.min() >= 0 and value.max() <= 255
    assert value.max() - value.min() > 200, "pixels must span the range, not sit near one value"
    np.testing.assert_array_equal(value, np.round(value))
    red, green, blue = value[0]
    # each channel has its own picture, so a swapped channel order changes what the model sees
    assert np.abs(red - blue).mean() > 30 and np.abs(red - green).mean() > 30
    # a horizontal gradient: the right edge is brighter than the left
    assert red[:, -4:].mean() - red[:, :4].mean() > 150


def test_image_without_preprocessing_stays_in_unit_range():
    value, how = generate(request((2, 16, 16, 3), pre=Preprocessing(channel_axis=3)), None, seed=1)
    assert how["kind"] == "image" and (how["low"], how["high"]) == (-1.0, 1.0)
    assert value.min() >= -1 and value.max() <= 1 and np.ptp(value) > 1.5
    assert not np.array_equal(value[0], value[1]), "batch items differ"


def test_non_image_inputs_follow_dtype_and_flags():
    ids, how = generate(request((1, 16), "int64"), None, seed=0)
    assert ids.dtype == np.int64 and how == {"kind": "uniform", "low": 0, "high": 9}
    features, how = generate(request((1, 50), pre=Preprocessing(False, (100.0,), (10.0,), 1)), None, 0)
    assert (how["low"], how["high"]) == (90.0, 110.0) and 90 <= features.min() < features.max() <= 110
    mask, how = generate(request((1, 8), "bool"), None, seed=0)
    assert mask.dtype == np.bool_ and how["kind"] == "bool"


def test_stated_range_and_files(tmp_path):
    spec = parse_spec({"ids": {"low": 5, "high": 7}, "x": "one.npy"}, tmp_path)
    ids, how = generate(InputRequest("ids", frozenset({"ids:0", "ids"}), "int32", (1, 40)),
                        setting_for(spec, {"ids:0"}), seed=0)
    assert set(np.unique(ids)) == {5, 6, 7} and how["kind"] == "uniform"
    array = np.arange(6, dtype=np.float32).reshape(1, 6)
    np.save(tmp_path / "one.npy", array)
    value, how = generate(request((1, 6)), setting_for(spec, {"x"}), seed=0)
    np.testing.assert_array_equal(value, array)
    assert how["kind"] == "file" and (how["low"], how["high"]) == (0.0, 5.0)
    np.savez(tmp_path / "many.npz", x=array * 2)
    value, _ = generate(request((1, 6)), parse_spec("many.npz", tmp_path)[""], seed=0)
    np.testing.assert_array_equal(value, array * 2)
    with pytest.raises(VerifierUnavailable, match="shape"):
        generate(request((1, 7)), setting_for(spec, {"x"}), seed=0)


@pytest.mark.parametrize("spec", [{"x": {"low": 3, "high": 1}}, {"x": 5}, "inputs.txt"])
def test_bad_input_specs_are_errors(spec):
    with pytest.raises(ValueError):
        parse_spec(spec, Path("."))


def test_dynamic_dims_need_something_to_fix_them():
    assert static_shape("x", [1, 3, 8, 8], None) == (1, 3, 8, 8)
    assert static_shape("x", [None, 3, 8, 8], (2, 3, 8, 8)) == (2, 3, 8, 8)
    with pytest.raises(VerifierUnavailable, match=r"input 'x' has dynamic dimensions \[\?,3,8,8\].*input_shape"):
        static_shape("x", [None, 3, 8, 8], None)
    with pytest.raises(VerifierUnavailable):
        static_shape("x", [None, 3, 8, 8], (2, 4, 8, 8))  # contradicts a static dim


def test_structured_image_is_seeded():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    a = structured_image(rng_a, (1, 8, 8, 3), 3, 0.0, 255.0, np.float32)
    b = structured_image(rng_b, (1, 8, 8, 3), 3, 0.0, 255.0, np.float32)
    np.testing.assert_array_equal(a, b)
