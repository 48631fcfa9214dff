"""converter.options: the Model Optimizer's flags, as text or as structured (TOML) values."""
import pytest

from converter.errors import UserInputError
from converter.options import ConversionOptions, InputCut


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
