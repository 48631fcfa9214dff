"""Detections compared as detections: DetectionOutput rows against the source's four outputs."""
from __future__ import annotations

import numpy as np

from modelzoo.verify.detections import compare_detections, iou, is_detection_output

# (class, score, (ymin, xmin, ymax, xmax))
SOURCE = [(3, 0.9, (0.1, 0.1, 0.5, 0.4)), (1, 0.8, (0.2, 0.5, 0.9, 0.9)),
          (3, 0.4, (0.6, 0.0, 1.0, 0.3)), (7, 0.01, (0.0, 0.0, 0.1, 0.1))]


def source_outputs(dets, capacity=10):
    boxes = np.zeros((1, capacity, 4), np.float32)
    scores = np.zeros((1, capacity), np.float32)
    classes = np.zeros((1, capacity), np.float32)
    for i, (label, score, box) in enumerate(dets):
        boxes[0, i], scores[0, i], classes[0, i] = box, score, label
    return {"detection_boxes": boxes, "detection_scores": scores, "detection_classes": classes,
            "num_detections": np.array([len(dets)], np.float32)}


def ir_rows(dets, capacity=10):
    rows = np.zeros((1, 1, capacity, 7), np.float32)
    rows[0, 0, :, 0] = -1
    for i, (label, score, (ymin, xmin, ymax, xmax)) in enumerate(dets):
        rows[0, 0, i] = [0, label, score, xmin, ymin, xmax, ymax]
    return rows


def compare(ir, source=SOURCE, precision="FP32", capacity=10):
    return compare_detections("detection_out", ["detection_out"], ir_rows(ir, capacity),
                              source_outputs(source, capacity), precision)


def test_same_detections_pass_and_are_counted():
    entry = compare(SOURCE)
    assert entry["passed"], entry
    stats = entry["detections"]
    assert (stats["matched"], stats["source_total"]) == (3, 3)  # the 0.01 one is below threshold
    assert stats["worst_iou"] == 1.0 and stats["worst_score_difference"] == 0.0


def test_small_differences_within_tolerance_pass():
    nudged = [(c, s + 5e-4, (b[0] + 0.005, b[1], b[2], b[3])) for c, s, b in SOURCE]
    entry = compare(nudged)
    assert entry["passed"], entry
    assert 0.9 < entry["detections"]["worst_iou"] < 1.0


def test_wrong_class_box_or_score_fails():
    for broken in ([(4, 0.9, SOURCE[0][2])] + SOURCE[1:],
                   [(3, 0.9, (0.1, 0.2, 0.5, 0.5))] + SOURCE[1:],
                   [(3, 0.89, SOURCE[0][2])] + SOURCE[1:]):
        entry = compare(broken)
        assert not entry["passed"] and "without an IR match" in entry["problem"]
    assert compare([(3, 0.89, SOURCE[0][2])] + SOURCE[1:], precision="FP16")["passed"]


def test_missing_or_extra_detection_fails():
    assert not compare(SOURCE[1:])["passed"]
    extra = compare(SOURCE + [(5, 0.6, (0.3, 0.3, 0.6, 0.6))])
    assert not extra["passed"] and extra["detections"]["extra"]


def test_exact_ties_and_the_cut_off_of_a_full_list_are_forgiven():
    tied = [(3, 0.5, (0.1, 0.1, 0.5, 0.4)), (1, 0.5, (0.2, 0.5, 0.9, 0.9))]
    # the IR kept the other of two tied detections
    assert compare([tied[1], (2, 0.5, (0.0, 0.5, 0.2, 0.9))], source=tied)["passed"]
    full = [(1, 0.9 - i * 0.01, (0.1 * i, 0.0, 0.1 * i + 0.05, 0.1)) for i in range(4)]
    cut = full[:3] + [(2, full[3][1] + 1e-4, (0.5, 0.5, 0.6, 0.6))]
    assert compare(cut, source=full, capacity=4)["passed"], "the list's last place may differ"
    assert not compare(cut, source=full, capacity=10)["passed"], "not when the list is not full"


def test_nothing_above_threshold_compares_nothing():
    entry = compare([SOURCE[3]], source=[SOURCE[3]])
    assert not entry["passed"] and "detects nothing" in entry["problem"]


def test_layout_and_iou():
    assert is_detection_output({"detection_out"}, (1, 1, 100, 7))
    assert is_detection_output({"whatever"}, (1, 1, 100, 7))
    assert not is_detection_output({"y"}, (1, 100, 7))
    assert iou((0, 0, 1, 1), (0, 0, 1, 0.5)) == 0.5
