"""The report for CI systems: zoo.json (the table, machine-readable) and junit.xml (one test
case per model and precision), so a CI system shows a zoo build as a test run."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..summary import NOT_BUILT, SKIPPED, Row

SUITE = "modelzoo"


def _seconds(row: Row) -> float:
    return round(row.convert_seconds or 0.0, 3)


def _testcase(row: Row) -> ET.Element:
    case = ET.Element("testcase", name=f"{row.model} [{row.precision}]",
                      classname=f"{SUITE}.{row.model}", time=f"{_seconds(row):.3f}")
    if row.failed:
        failure = ET.SubElement(case, "failure", message=row.reason or row.status,
                                type=row.status)
        failure.text = row.reason or row.status
    elif row.status in (SKIPPED, NOT_BUILT):
        ET.SubElement(case, "skipped", message=row.reason or row.status)
    return case


def junit_xml(rows: list[Row], manifest: str, generated: str) -> bytes:
    """JUnit XML as Jenkins and Surefire read it: testsuites > testsuite > testcase."""
    failures = sum(row.failed for row in rows)
    skipped = sum(row.status in (SKIPPED, NOT_BUILT) for row in rows)
    seconds = f"{sum(_seconds(row) for row in rows):.3f}"
    counts = {"tests": str(len(rows)), "failures": str(failures), "errors": "0",
              "skipped": str(skipped), "time": seconds}
    suites = ET.Element("testsuites", name=SUITE, **counts)
    suite = ET.SubElement(suites, "testsuite", name=SUITE, timestamp=generated, **counts)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="manifest", value=manifest)
    suite.extend(_testcase(row) for row in rows)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
