"""What operators read: the HTML report, its charts, the segment summary and the effects section.

Why: the report, the service's segment summary and the operator page draw the same tables and
charts; they are computed here once.
"""

from __future__ import annotations

from serving.reporting.monitor_section import monitoring_section, read_monitor_json
from serving.reporting.report import build_report, effects_section_for, model_sections
from serving.reporting.segment_summary import SegmentSummaryCache, SegmentSummaryResponse

__all__ = [
    "SegmentSummaryCache",
    "SegmentSummaryResponse",
    "build_report",
    "effects_section_for",
    "model_sections",
    "monitoring_section",
    "read_monitor_json",
]
