"""Comparing detections, for IRs whose postprocessing is one `DetectionOutput`.

A converted detector (the Object Detection API's SSD) replaces the source's box decoding and
per-class NMS loop by OpenVINO's `DetectionOutput`, whose output `[1, 1, K, 7]` holds rows of
`[image_id, label, confidence, x_min, y_min, x_max, y_max]`; the source gives `detection_boxes`
(y_min, x_min, y_max, x_max), `detection_scores`, `detection_classes` and `num_detections`.
Raw tensors cannot be compared, detections can: every source detection above the score
threshold must have an IR detection of the same class with IoU >= 0.9 and a score within the
precision's tolerance, and the other way round. Two runtimes may order exact score ties
differently, and so cut a full list at another place: an unmatched detection is forgiven only
when its score ties with another one, or when the list is full and its score is the list's
lowest (within the tolerance), nothing else.
"""
from __future__ import annotations

from typing import Any

MIN_IOU = 0.9
SCORE_TOLERANCE = {"FP32": 1e-3, "FP16": 3e-2}
SCORE_THRESHOLD = 0.05
SOURCE_NAMES = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
# Source outputs that the IR's DetectionOutput stands for (not compared one by one).
REPLACED_PREFIXES = ("detection_", "num_detections", "raw_detection_")


def _node_name(name: str) -> str:
    """The node a tensor name belongs to (`detection_boxes:0` -> `detection_boxes`)."""
    return name.split(":")[0]


def is_detection_output(names, shape) -> bool:
    """An IR output in DetectionOutput's layout."""
    return len(shape) == 4 and shape[-1] == 7 and shape[0] == 1 and shape[1] == 1 \
        or any(_node_name(n) == "detection_out" for n in names)


def source_detection_outputs(reference_outputs) -> dict[str, str] | None:
    """The reference's detection outputs by plain name, when it has all four."""
    found = {}
    for info in reference_outputs:
        for name in info.names:
            if _node_name(name) in SOURCE_NAMES:
                found[_node_name(name)] = info.name
    return found if len(found) == len(SOURCE_NAMES) else None


def replaced(info) -> bool:
    return any(_node_name(n).startswith(REPLACED_PREFIXES) for n in info.names)


def ir_detections(rows) -> list[tuple[int, float, tuple[float, float, float, float]]]:
    """(label, score, (y_min, x_min, y_max, x_max)) of the valid rows (image_id >= 0)."""
    import numpy as np

    rows = np.asarray(rows, np.float64).reshape(-1, 7)
    return [(int(round(r[1])), float(r[2]), (float(r[4]), float(r[3]), float(r[6]), float(r[5])))
            for r in rows if r[0] >= 0]


def source_detections(boxes, scores, classes, count) -> list[tuple[int, float, tuple]]:
    import numpy as np

    n = int(np.asarray(count).reshape(-1)[0])
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    return [(int(round(float(classes[i]))), float(scores[i]), tuple(float(v) for v in boxes[i]))
            for i in range(n)]


def iou(a, b) -> float:
    """Intersection over union of two (y_min, x_min, y_max, x_max) boxes."""
    height = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    width = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = height * width
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float(a == b)


def _matches(wanted, candidates, tolerance: float) -> tuple[list, list]:
    """Greedy one-to-one matching, best score first: (pairs, unmatched wanted)."""
    free = list(range(len(candidates)))
    pairs, unmatched = [], []
    for det in sorted(wanted, key=lambda d: -d[1]):
        best, best_iou = None, MIN_IOU
        for index in free:
            other = candidates[index]
            overlap = iou(det[2], other[2])
            if other[0] == det[0] and abs(other[1] - det[1]) <= tolerance and overlap >= best_iou:
                best, best_iou = index, overlap
        if best is None:
            unmatched.append(det)
        else:
            free.remove(best)
            pairs.append((det, candidates[best], best_iou))
    return pairs, unmatched


def _forgiven(det, listed, capacity: int, tolerance: float) -> bool:
    """A tie with another detection's score, or the cut-off of a full list."""
    ties = sum(1 for other in listed if other[1] == det[1]) > 1
    lowest = min(other[1] for other in listed)
    return ties or (len(listed) >= capacity and det[1] <= lowest + tolerance)


def compare_detections(name: str, ir_names: list[str], rows, source: dict[str, Any],
                       precision: str) -> dict[str, Any]:
    """The report entry of a DetectionOutput against the source's four detection outputs."""
    import numpy as np

    tolerance = SCORE_TOLERANCE.get(precision, SCORE_TOLERANCE["FP16"])
    ours = ir_detections(rows)
    theirs = source_detections(source["detection_boxes"], source["detection_scores"],
                               source["detection_classes"], source["num_detections"])
    # how many detections each side can list: a full list is cut at the lowest scores
    capacity = min(len(np.asarray(rows).reshape(-1, 7)),
                   len(np.asarray(source["detection_boxes"]).reshape(-1, 4)))
    wanted = [d for d in theirs if d[1] >= SCORE_THRESHOLD]
    candidates = [d for d in ours if d[1] >= SCORE_THRESHOLD - tolerance]
    pairs, unmatched = _matches(wanted, candidates, tolerance)
    missing = [d for d in unmatched if not _forgiven(d, theirs, capacity, tolerance)]
    _, extra = _matches([d for d in ours if d[1] >= SCORE_THRESHOLD],
                                  [d for d in theirs if d[1] >= SCORE_THRESHOLD - tolerance], tolerance)
    extra = [d for d in extra if not _forgiven(d, ours, capacity, tolerance)]
    entry = {"name": name, "ir_names": ir_names, "shape": [len(ours), 7], "kind": "detections",
             "ir_element_type": "float32", "source_element_type": "float32", "empty": False,
             "max_abs_error": None, "max_rel_error": None, "problem": None,
             "detections": {
                 "score_threshold": SCORE_THRESHOLD, "min_iou": MIN_IOU, "score_tolerance": tolerance,
                 "source_total": len(wanted), "matched": len(pairs),
                 "forgiven": len(unmatched) - len(missing), "ir_total": len(ours),
                 "worst_iou": min((p[2] for p in pairs), default=None),
                 "worst_score_difference": max((abs(p[0][1] - p[1][1]) for p in pairs), default=None),
                 "missing": [_describe(d) for d in missing[:5]],
                 "extra": [_describe(d) for d in extra[:5]]}}
    entry["passed"] = not missing and not extra and bool(wanted)
    if missing or extra:
        entry["problem"] = (f"{len(missing)} source detection(s) without an IR match and "
                            f"{len(extra)} IR detection(s) without a source match, e.g. "
                            f"{(missing or extra)[0] and _describe((missing or extra)[0])}; ")
    elif not wanted:
        entry["problem"] = (f"the source detects nothing above {SCORE_THRESHOLD} on these "
                            f"inputs, so nothing was compared; ")
    return entry


def _describe(det) -> str:
    label, score, box = det
    return f"class {label} score {score:.4f} box [{', '.join(f'{v:.3f}' for v in box)}]"
