"""Fail unless the JUnit report shows tests ran and none were skipped."""

import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()  # noqa: S314
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
tests = sum(int(suite.get("tests", 0)) for suite in suites)
skipped = sum(int(suite.get("skipped", 0)) for suite in suites)
failures = sum(int(suite.get("failures", 0)) + int(suite.get("errors", 0)) for suite in suites)
print(f"junit: {tests} tests, {failures} failed, {skipped} skipped")
if tests == 0:
    sys.exit("no tests ran")
if skipped:
    names = [case.get("name") for case in root.iter("testcase") if case.find("skipped") is not None]
    sys.exit(f"{skipped} test(s) skipped: {names}")
if failures:
    sys.exit(f"{failures} test(s) failed")
