"""What operators read: the HTML report, its charts, the segment summary, the effects section, the
weekly KPIs and the funnel.

Why: the report, the service's segment summary and the operator page draw the same tables and
charts; they are computed here once.
"""

from __future__ import annotations

from serving.reporting.model_section import model_sections
from serving.reporting.monitor_section import monitoring_section, read_monitor_json
from serving.reporting.report import build_report, effects_section_for, playbook_names
from serving.reporting.report_config import ReportConfig, load_report_config, parse_report_config
from serving.reporting.segment_summary import SegmentSummaryCache, SegmentSummaryResponse

__all__ = [
    "ReportConfig",
    "SegmentSummaryCache",
    "SegmentSummaryResponse",
    "build_report",
    "effects_section_for",
    "load_report_config",
    "model_sections",
    "monitoring_section",
    "parse_report_config",
    "playbook_names",
    "read_monitor_json",
]
