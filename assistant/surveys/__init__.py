"""住民アンケートの集計: survey files → tables, cross tables, free-text themes, charts and まとめ資料 drafts.

`analyze` (service.py) is the one entry point; the CLI (`yakuba survey analyze`) and the API
(`POST /v1/surveys/analyze`) call it. Reading (read.py), column kinds (kinds.py), tables (tables.py),
themes (themes.py), charts (charts.py) and reports (report.py) each do one job.
"""

from yakuba.assistant.surveys.schema import SurveyAnalysis, SurveySettings
from yakuba.assistant.surveys.service import SurveyResult, analyze

__all__ = ["SurveyAnalysis", "SurveyResult", "SurveySettings", "analyze"]
