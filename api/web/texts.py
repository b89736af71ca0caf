"""Words the pages show for the domain's codes: camera states, alarms, gap reasons, request states.

The domain keeps stable codes (`offline`, `not_recorded`, `producing` ...), a contract with the API
and central monitoring; a page shows each in the reader's language. A code without a text here
is shown as it is, marked `translate="no"` (a code, not a sentence).
"""

from __future__ import annotations

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from edge import legal
from edge.i18n import Localizer
from edge.i18n.message import N_

STATES = {
    "recording": N_("recording"), "reconnecting": N_("reconnecting"), "offline": N_("offline"),
    "paused": N_("paused"), "disabled": N_("disabled"), "unknown": N_("unknown"),
    # exports, reviews, holds
    "pending": N_("pending"), "approved": N_("approved"), "denied": N_("denied"), "expired": N_("expired"),
    "producing": N_("producing"), "ready": N_("ready"), "failed": N_("failed"), "active": N_("active"),
    "revoked": N_("revoked"), "ended": N_("ended"),
}

ALARMS = {
    "offline": N_("camera offline"), "stalled": N_("stream stalled"), "paused": N_("recording paused"),
    "dark": N_("picture too dark"), "overexposed": N_("picture overexposed"), "covered": N_("lens covered"),
    "blurred": N_("picture blurred"), "frozen": N_("picture frozen"),
    "moved": N_("view differs from its commissioned reference (moved or re-aimed; report it, Art. 19(5))"),
    "capacity": N_("the store cannot hold the retention floor at current rates"),
    "disk_full": N_("disk full: recording paused"), "floor_at_risk": N_("footage younger than the floor is at risk"),
    "floor_breach": N_("footage younger than the floor was deleted"), "disk_error": N_("disk error"),
    "recovery": N_("recovered after an unclean stop"), "offload_behind": N_("off-box copy is behind"),
    "clock_step": N_("the system clock stepped"), "clock_unsynced": N_("the system clock is not synchronised"),
    "segment_altered": N_("a stored segment no longer matches its hash"),
    "checkpoint_failed": N_("signed checkpoint failed"), "timestamp_failed": N_("trusted timestamp failed"),
    "clock_drift": N_("camera clock off the recorder's"),
    "recorder_stopped": N_("the recorder is not running: no camera is being recorded"),
}

GAP_REASONS = {
    "not_recorded": N_("not recorded"), "timeout": N_("camera did not answer"), "bad_data": N_("bad data"),
    "unauthorized": N_("camera refused the credentials"), "not_found": N_("stream not found"),
    "stream_ended": N_("stream ended"), "unsupported": N_("unsupported stream"),
    "recorder_stopped": N_("recorder stopped"), "paused": N_("recording paused"), "disk_full": N_("disk full"),
    "stalled": N_("stream stalled"), "segment_altered": N_("segment altered"), "deleted": N_("deleted"),
    "clock_step": N_("clock stepped"), "offline": N_("offline"), "connection_lost": N_("connection lost"),
    "refused": N_("connection refused"),
}

ROLES = {"maintainer": N_("maintainer"), "monitor": N_("monitor"), "officer": N_("officer"),
         "approver": N_("approver"), "auditor": N_("auditor")}

#: The access register's actions (storage.register.ACTIONS), as an auditor reads them.
ACTIONS = {
    "access_denied": N_("access refused"), "auth_failure": N_("sign-in or token refused"),
    "baseline_set": N_("reference view set"), "config_reload": N_("configuration reloaded"),
    "export_approve": N_("export approved"), "export_deny": N_("export denied"),
    "export_download": N_("export downloaded"), "export_expire": N_("export request expired"),
    "export_produce": N_("export produced"), "export_request": N_("export requested"),
    "export_view": N_("export viewed"), "floor_breach": N_("footage under the floor deleted"),
    "gb28181_download": N_("GB28181 download"), "gb28181_live": N_("GB28181 live view"),
    "gb28181_playback": N_("GB28181 playback"), "hold_create": N_("hold created"), "hold_expire": N_("hold expired"),
    "hold_release_approve": N_("hold release approved"), "hold_release_deny": N_("hold release denied"),
    "hold_release_request": N_("hold release requested"), "live_view": N_("live view"),
    "maintenance": N_("maintenance"), "offload_upload": N_("copied off the box"),
    "register_export": N_("register downloaded"), "retention_delete": N_("deleted by retention"),
    "review_approve": N_("review approved"), "review_deny": N_("review denied"),
    "review_expire": N_("review request expired"), "review_request": N_("review requested"),
    "review_revoke": N_("review revoked"), "review_view": N_("footage reviewed"), "sign_in": N_("signed in"),
    "sign_out": N_("signed out"), "snapshot_view": N_("picture viewed"), "token_rotate": N_("token replaced"),
    "user_add": N_("user added"), "user_disable": N_("user disabled"), "user_enable": N_("user enabled"),
    "wide_hold_approve": N_("all-camera hold approved"), "wide_hold_deny": N_("all-camera hold denied"),
    "wide_hold_request": N_("all-camera hold requested"),
}

#: Field names of register details.
DETAIL_KEYS = (N_("code"), N_("count"), N_("window start"), N_("window seconds"), N_("reasons"), N_("requests"),
               N_("user"), N_("what"), N_("hold"), N_("problems"), N_("granted until us"), N_("expires us"),
               N_("manifest sha256"), N_("gaps"), N_("requested by"), N_("automatic"), N_("segment"), N_("seq"),
               N_("start us"), N_("end us"), N_("set us"), N_("camera"), N_("source"), N_("error"), N_("width"),
               N_("height"), N_("metrics"), N_("hold id"), N_("created by"), N_("all cameras"))

EVENTS = {"raise": N_("raised"), "clear": N_("cleared")}


def _word(loc: Localizer, table: dict[str, str], code: object) -> Markup:
    text = table.get(str(code))
    if text is None:
        return Markup('<span translate="no">%s</span>') % str(code)
    return Markup(escape(loc.gettext(text)))


@pass_context
def state(ctx: Context, code: object) -> Markup:
    return _word(ctx["loc"], STATES, code)


@pass_context
def alarm(ctx: Context, code: object) -> Markup:
    return _word(ctx["loc"], ALARMS, code)


@pass_context
def gap_reason(ctx: Context, code: object) -> Markup:
    """One reason code, or several joined ("timeout, bad_data" / a list)."""
    loc: Localizer = ctx["loc"]
    codes = code if isinstance(code, list | tuple) else [c.strip() for c in str(code).split(",")]
    return Markup(", ").join(_word(loc, GAP_REASONS, c) for c in codes if c)


@pass_context
def event(ctx: Context, code: object) -> Markup:
    return _word(ctx["loc"], EVENTS, code)


@pass_context
def role(ctx: Context, code: object) -> Markup:
    return _word(ctx["loc"], ROLES, code)


@pass_context
def action(ctx: Context, code: object) -> Markup:
    return _word(ctx["loc"], ACTIONS, code)


@pass_context
def site_category(ctx: Context, code: object) -> Markup:
    return _word(ctx["loc"], legal.SITE_CATEGORY_NAMES, code)


FILTERS = {"action": action, "site_category": site_category, "role": role, "state": state, "alarm": alarm,
           "gap_reason": gap_reason, "event": event}
