"""The audit log's health in Dagster: an asset that verifies the chain, and a blocking check on it.

The `audit_log` resource (AuditLogResource) is wired in definitions.py.
"""


import dagster as dg

from kalshi_assets.audit import AuditLogDamagedError, VerifyReport
from kalshi_assets.defs import keys
from kalshi_assets.defs.resources import AuditLogResource

_MAX_PROBLEMS_SHOWN = 50


def _problems_markdown(report: VerifyReport) -> str:
    if report.ok:
        return "_none_"
    lines = [f"- {problem.describe()}" for problem in report.problems[:_MAX_PROBLEMS_SHOWN]]
    if len(report.problems) > _MAX_PROBLEMS_SHOWN:
        lines.append(f"- ... and {len(report.problems) - _MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


def _report_metadata(report: VerifyReport) -> dict[str, dg.MetadataValue]:
    return {
        "directory": dg.MetadataValue.path(report.directory),
        "verify_status": dg.MetadataValue.text("ok" if report.ok else "damaged"),
        "anchor": dg.MetadataValue.text(report.anchor),
        "anchored_seq": dg.MetadataValue.int(report.anchored_seq or 0),
        "total_entries": dg.MetadataValue.int(report.total_entries),
        "first_seq": dg.MetadataValue.int(report.first_seq or 0),
        "last_seq": dg.MetadataValue.int(report.last_seq or 0),
        "checkpoint_seq": dg.MetadataValue.int(report.checkpoint_seq or 0),
        "segments": dg.MetadataValue.int(report.segments),
        "problem_count": dg.MetadataValue.int(len(report.problems)),
        "first_bad_seq": dg.MetadataValue.int(report.first_bad_seq or 0),
        "problems": dg.MetadataValue.md(_problems_markdown(report)),
        "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in report.notes) or "_none_"),
        "verify_seconds": dg.MetadataValue.float(round(report.elapsed_seconds, 4)),
    }


@dg.asset(
    group_name="trading",
    kinds={"python"},
    # After what writes audit records, so its figures count them (the sensor observes it in between).
    deps=[keys.PAPER_ORDERS],
    description="Verifies the audit log's hash chain, sequence, segments and signed checkpoint, after "
    "paper_orders (which writes the audit records) and every hour.",
)
def audit_log_health(context: dg.AssetExecutionContext, audit_log: AuditLogResource) -> dg.MaterializeResult:
    # Opening the log first lets a writer-side recovery (a torn tail from a killed step) happen
    # before verification, exactly as the next trading step would see it. A log too damaged to
    # open is still verified, so the damage is reported rather than raised.
    try:
        audit_log.get_log()
    except AuditLogDamagedError as exc:
        context.log.error(f"audit log refuses appends: {exc}")
    report = audit_log.verify()
    if not report.ok:
        context.log.error(f"audit log damaged: {len(report.problems)} problems, first at seq {report.first_bad_seq}")
    return dg.MaterializeResult(metadata=_report_metadata(report))


@dg.asset_check(
    asset=audit_log_health,
    blocking=True,
    description="Fails on any audit log problem: edited, missing, reordered, truncated or rewritten records; "
    "strict when an anchor is configured (then also when the log cannot be checked against it).",
)
def audit_chain_intact(audit_log: AuditLogResource) -> dg.AssetCheckResult:
    report = audit_log.verify()
    strict = audit_log.anchored
    passed = report.ok and (report.anchored or not strict)
    metadata = {
        "total_entries": dg.MetadataValue.int(report.total_entries),
        "last_seq": dg.MetadataValue.int(report.last_seq or 0),
        "problem_count": dg.MetadataValue.int(len(report.problems)),
        "first_bad_seq": dg.MetadataValue.int(report.first_bad_seq or 0),
        "problems": dg.MetadataValue.md(_problems_markdown(report)),
        "anchor": dg.MetadataValue.text(report.anchor),
        "strict": dg.MetadataValue.bool(strict),
    }
    if passed:
        description = None
    elif report.problems:
        description = f"first problem: {report.problems[0].describe()}"
    else:
        description = f"strict mode: {report.anchor}"
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata, description=description
    )


defs = dg.Definitions(assets=[audit_log_health], asset_checks=[audit_chain_intact])
