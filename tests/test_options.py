"""converter.options: the Model Optimizer's flags, as text or as structured (TOML) values."""
import pytest

from converter.errors import UserInputError
from converter.options import INERT_FLAGS, ConversionOptions, InputCut


def opts(**flags) -> ConversionOptions:
    return ConversionOptions.from_flags(flags)


@pytest.mark.parametrize("text,structured", [
    ({"input_shape": "[1,3,224,224]"}, {"input_shape": [1, 3, 224, 224]}),
    ({"input_shape": "(1,3,224,224),[2,4]"}, {"input_shape": [[1, 3, 224, 224], [2, 4]]}),
    ({"mean_values": "data[1,2,3]"}, {"mean_values": {"data": [1, 2, 3]}}),
    ({"scale_values": "[255]"}, {"scale_values": [255]}),
    ({"output": "a,b"}, {"output": ["a", "b"]}),
    ({"reverse_input_channels": "true"}, {"reverse_input_channels": True}),
    ({"data_type": "half"}, {"data_type": "FP16"}),
])
def test_both_spellings_give_the_same_canonical_options(text, structured):
    assert opts(**text).canonical() == opts(**structured).canonical()


def test_input_with_shape_and_frozen_value():
    cuts = opts(input="data[1 3 8 8],flag->[1]").input
    assert cuts == (InputCut("data", (1, 3, 8, 8)), InputCut("flag", None, (1.0,)))


def test_dynamic_dimensions():
    assert opts(input_shape="[?,3,-1,224]").input_shape == ((-1, 3, -1, 224),)


def test_several_named_mean_values():
    assert dict(opts(mean_values="data[255,255,255],info[1,2]").mean_values) == {
        "data": (255.0, 255.0, 255.0), "info": (1.0, 2.0)}


@pytest.mark.parametrize("flags,message", [
    ({"input_shape": "[1,3,,224]"}, "flag input_shape"),
    ({"input_shape": "1,3,224"}, "flag input_shape"),
    ({"mean_values": "data[a,b]"}, "flag mean_values"),
    ({"batch": 0}, "flag batch"),
    ({"data_type": "INT8"}, "flag data_type"),
    ({"reverse_input_channels": "maybe"}, "flag reverse_input_channels"),
    ({"input_shap": "[1]"}, "unknown conversion flag 'input_shap'"),
    ({"input": "a,b", "input_shape": "[1]"}, "gives 1 shape"),
    ({"mean_values": [1, 2], "reverse_input_channels": True}, "3 values"),
])
def test_malformed_flags_name_the_flag(flags, message):
    with pytest.raises(UserInputError, match=message):
        opts(**flags)


def test_defaults_are_left_out_of_the_canonical_form():
    assert opts(data_type="FP32", reverse_input_channels=False, output_dir="x").canonical() == {}


# -- compress_to_fp16: ovc's spelling of data_type ----------------------------------------------
@pytest.mark.parametrize("compress,data_type", [(True, "FP16"), ("True", "FP16"), (False, "FP32"),
                                                ("false", "FP32")])
def test_compress_to_fp16_sets_the_data_type(compress, data_type):
    options = opts(compress_to_fp16=compress)
    assert options.data_type == data_type
    assert options.canonical() == opts(data_type=data_type).canonical()  # one cache key


def test_compress_to_fp16_agreeing_with_data_type_is_accepted():
    assert opts(compress_to_fp16=True, data_type="half").data_type == "FP16"


@pytest.mark.parametrize("compress,data_type", [(True, "FP32"), (False, "FP16")])
def test_compress_to_fp16_conflicting_with_data_type_names_both(compress, data_type):
    with pytest.raises(UserInputError, match="compress_to_fp16.*data_type") as caught:
        opts(compress_to_fp16=compress, data_type=data_type)
    assert data_type in str(caught.value)


def test_compress_to_fp16_must_be_true_or_false():
    with pytest.raises(UserInputError, match="flag compress_to_fp16"):
        opts(compress_to_fp16="sometimes")


# -- flags that change nothing here ---------------------------------------------------------------
def test_an_inert_flag_is_accepted_without_changing_the_canonical_form():
    assert opts(static_shape=True, progress=True, log_level="DEBUG").canonical() == {}
    assert opts(static_shape=True).inert_flag_notes() == [
        f"static_shape: {INERT_FLAGS['static_shape']}"]


def test_an_inert_switch_set_to_false_has_nothing_to_say():
    assert opts(keep_shape_ops=False, generate_deprecated_IR_V7=False).inert_flag_notes() == []


def test_asking_for_ir_v7_is_refused():
    with pytest.raises(UserInputError, match="generate_deprecated_IR_V7.*IR v11"):
        opts(generate_deprecated_IR_V7=True)


def test_every_inert_flag_has_one_line_saying_what_happens():
    for flag, note in INERT_FLAGS.items():
        assert note and "\n" not in note, flag


def converter_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("converter")]


def test_an_inert_flag_logs_its_line_when_converting_not_when_parsing(tmp_path, caplog):
    import converter
    from tinymodels import conv_weights, write_onnx_conv_relu

    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    caplog.set_level("INFO", logger="converter")
    options = opts(input_model=str(model), output_dir=str(tmp_path), static_shape=True)
    assert converter_logs(caplog) == []  # a manifest checks its flags without converting
    from converter.pipeline import convert_model

    convert_model(options)
    assert converter_logs(caplog) == [
        "static_shape: IR shapes are static where the inputs are; give --input_shape (or "
        "--batch) to make every input static"]
    caplog.clear()
    converter.convert(model, output_dir=tmp_path, keep_shape_ops=True, move_to_preprocess=True)
    assert [line.split(":")[0] for line in converter_logs(caplog)] == ["keep_shape_ops",
                                                                        "move_to_preprocess"]


# -- disable_gfusing ----------------------------------------------------------------------------
def tiny_graph():
    from converter.graph import Graph

    g = Graph()
    g.result(g.op("ReLU", g.parameter("x", (1, 4), "f32")), "y")
    return g


def test_disable_gfusing_switches_off_the_grouped_convolution_fusing_silently(caplog):
    from converter.passes import GROUPED_FUSING, active_passes, run_passes

    assert GROUPED_FUSING == frozenset({"fuse_grouped_convolution"})
    assert "fuse_grouped_convolution" not in active_passes(opts(disable_gfusing=True))
    assert "fuse_grouped_convolution" in active_passes(opts())
    caplog.set_level("WARNING", logger="converter")
    run_passes(tiny_graph(), opts(disable_gfusing=True))
    assert converter_logs(caplog) == []


def test_disable_gfusing_switches_off_the_grouped_fusing_passes(monkeypatch, caplog):
    from converter import passes

    monkeypatch.setattr(passes, "GROUPED_FUSING", frozenset({"transpose_sinking"}))
    assert "transpose_sinking" not in passes.active_passes(opts(disable_gfusing=True))
    assert "transpose_sinking" in passes.active_passes(opts())
    assert "fuse_linear_into_conv" in passes.active_passes(opts(disable_gfusing=True))
    assert converter_logs(caplog) == []


def test_disable_fusing_switches_off_the_fusing_passes():
    from converter import passes

    assert "fuse_linear_into_conv" not in passes.active_passes(opts(disable_fusing=True))


def test_the_seeds_input_example_with_ports_shapes_and_frozen_values():
    cuts = opts(input="0:node_name1[3 4],node_name2:1[2]->[20 15]").input
    assert cuts == (InputCut("0:node_name1", (3, 4)), InputCut("node_name2:1", (2,), (20.0, 15.0)))
    assert opts(input="0:node_name1[3 4],node_name2:1[2]->[20 15]").frozen_inputs() == {
        "node_name2:1": (20.0, 15.0)}


@pytest.mark.parametrize("raw,expected", [
    ("phase_train->False", {"phase_train": (0.0,)}),
    ("a->True,b->[1 2.5]", {"a": (1.0,), "b": (1.0, 2.5)}),
    ({"a": True, "b": [1, 2.5]}, {"a": (1.0,), "b": (1.0, 2.5)}),
    (["a->1", "b->(1,2.5)"], {"a": (1.0,), "b": (1.0, 2.5)}),
])
def test_freeze_placeholder_with_value_spellings(raw, expected):
    assert opts(freeze_placeholder_with_value=raw).frozen_inputs() == expected


def test_input_values_win_over_freeze_placeholder_with_value():
    options = opts(freeze_placeholder_with_value="a->1", input="a->[2]")
    assert options.frozen_inputs() == {"a": (2.0,)}
