"""`labelkit studio`: a Starlette app over an explicit StudioState.

Security: the page is served on 127.0.0.1 only; every request needs the per-session token (in the
URL printed at start, then an HttpOnly SameSite=Strict cookie); the Host header must be 127.0.0.1 or
localhost (DNS rebinding); every POST needs the CSRF token and a same-origin Origin (or Referer);
templates escape every value; the client never names a file, and nothing it sends is executed.
"""
from __future__ import annotations

import functools
import hmac
import json
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from labelkit.data.corrections import Correction, append_correction, now, read_corrections
from labelkit.errors import LabelkitError
from labelkit.lfs.rules import KINDS, RulesConflict, check_rule, delete_rule, rule_from_table, save_rule, to_lf
from labelkit.studio.review import GOLD_QUEUES, SOURCES, review_items
from labelkit.studio.state import StudioState

HERE = Path(__file__).parent
COOKIE = "labelkit_studio"
STATIC = {"studio.js": "text/javascript", "studio.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
LOCAL_HOSTS = ("127.0.0.1", "localhost")
HINT = "Type the rule's words, pattern or condition to see where it fires."
PREVIEW_NAME = "new_rule"  # stands in for a name not typed yet, in the preview only
CONTENT_FIELD = {"keywords": "words", "phrases": "words", "regex": "pattern", "column": "condition",
                 "spacy": "patterns", "similar": "examples"}  # the field that says what a rule of each kind matches
MAX_FORM = 1 << 20


def create_app(state: StudioState) -> Starlette:
    """The studio app for `state`; everything it shows or changes goes through `state`."""
    templates = _templates()

    def page(template: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("hint", "")
        body = templates.get_template(template).render(state=state, csrf=state.csrf, kinds=list(KINDS), **context)
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def guarded(handler):
        @functools.wraps(handler)
        async def wrapper(request: Request):
            refusal = _refuse(request, state)
            if refusal is not None:
                return refusal
            if request.method == "POST":
                form = await _read_form(request)
                if form is None:
                    return PlainTextResponse("Refused: send a URL-encoded form of at most 1 MB.", 415)
                token = request.headers.get("x-csrf-token") or form.get("csrf") or ""
                if not hmac.compare_digest(str(token), state.csrf) or not _same_origin(request):
                    return PlainTextResponse("Refused: cross-site or stale request (reload the page).", 403)
                return await handler(request, form)
            return await handler(request)

        return wrapper

    def broken_rules_file(exc: LabelkitError) -> HTMLResponse:
        """The rules file no longer reads (edited by hand): the build's own message, not a bare HTTP 500."""
        return page("message.html", 409, title="The rules file has an error", message=str(exc),
                    hint=f"Fix {state.rules_path.name} in your editor (the line is named above) and reload this page; "
                         f"the studio keeps the last rules that read.")

    @guarded
    async def rules_page(request: Request):
        with state.lock:
            try:
                state.sync()
            except LabelkitError as exc:
                return broken_rules_file(exc)
            table = state.workspace.table(state.order())
            overall = state.workspace.overall()
        return page("rules.html", table=table, overall=overall, saved=request.query_params.get("saved", ""))

    @guarded
    async def editor_page(request: Request):
        name = request.path_params.get("name")
        with state.lock:
            try:
                state.sync()
            except LabelkitError as exc:
                return broken_rules_file(exc)
            rule = state.rule(name) if name else None
            if name and rule is None:
                source = state.python_lfs.get(name)
                if source is None:
                    return page("message.html", 404, title="No such rule", message=f"There is no rule named {name}.")
                return page("python_lf.html", name=name, source=source)
            values = _form_values(rule.to_table()) if rule else {"kind": "keywords", "class": state.classes[0]}
            return page("editor.html", values=values, original=name or "", sha=state.rules_sha256, error="", hint=HINT)

    @guarded
    async def preview(request: Request, form):
        if not _typed(form):  # a new rule as opened: nothing to judge yet, so no error either
            return page("preview.html", error="", hint=HINT)
        if not (form.get("name") or "").strip():  # the name matters when saving, not for a preview
            form = {**form, "name": PREVIEW_NAME}
        try:
            rule = _rule_from_form(form, state)
            with state.lock:
                result = state.workspace.preview(to_lf(rule), replaces=form.get("original") or None, kind=rule.kind)
        except LabelkitError as exc:
            return page("preview.html", error=str(exc))
        return page("preview.html", error="", result=result, classes=state.classes)

    @guarded
    async def save(request: Request, form):
        original = form.get("original") or None
        try:
            rule = _rule_from_form(form, state)
            with state.lock:
                sha = save_rule(state.rules_path, rule, replaces=original, expected_sha256=form.get("sha", ""),
                                classes=list(state.classes), columns=state.columns)
                state.after_save(sha)
        except RulesConflict as exc:
            return page("editor.html", 409, values=_form_values(dict(form)), original=original or "",
                        sha=form.get("sha", ""), error=str(exc), hint=HINT)
        except LabelkitError as exc:
            return page("editor.html", 400, values=_form_values(dict(form)), original=original or "",
                        sha=form.get("sha", ""), error=str(exc), hint=HINT)
        return RedirectResponse(f"/?saved={rule.name}", status_code=303, headers=HEADERS)

    @guarded
    async def delete(request: Request, form):
        name = request.path_params["name"]
        try:
            with state.lock:
                sha = delete_rule(state.rules_path, name, expected_sha256=form.get("sha", ""))
                state.after_save(sha)
        except LabelkitError as exc:
            return page("message.html", 409, title="Not deleted", message=str(exc))
        return RedirectResponse("/", status_code=303, headers=HEADERS)

    @guarded
    async def review_page(request: Request):
        try:
            items = _queue(state, state.run())
        except LabelkitError as exc:
            return page("message.html", 400, title="Review queue", message=str(exc))
        source = request.query_params.get("source", "")
        shown = [i for i in items if not source or i.source == source]
        counts = {s: sum(1 for i in items if i.source == s) for s in SOURCES}
        return page("review.html", items=shown, counts=counts, sources=SOURCES, source=source,
                    run=str(state.run_dir), exists=state.run_dir.is_dir(), human_path=state.human_labels_path)

    @guarded
    async def decide(request: Request, form):
        split, row_id, action = form.get("split", ""), form.get("row_id", ""), form.get("action", "")
        source = form.get("item_source", "")
        new = str(form.get("new", ""))
        if action in ("change", "label") and not new:
            return page("message.html", 400, title="No class chosen",
                        message="Choose the row's class in the list before saving (nothing was recorded).")
        if action in ("change", "label") and new not in state.classes:
            return PlainTextResponse(f"Refused: {new!r} is not a class.", 400, headers=HEADERS)
        run = state.run()  # the last build, opened once for the queue and the row a label stands for
        queue = {(i.source, i.split, i.row_id): i for i in _queue(state, run)}
        back = form.get("source", "")
        where = RedirectResponse(f"/review?source={back}#{split}-{row_id}" if back in SOURCES else "/review",
                                 status_code=303, headers=HEADERS)
        if action == "label":  # a blind form: label_next (the human labels file) or gold_review (corrections)
            item = queue.get((source, split, row_id))
            if item is None or not item.blind:
                return PlainTextResponse("Refused: unknown row.", 400, headers=HEADERS)
            if source == "label_next":
                from labelkit.human.label_next import record_human_label

                with state.lock:
                    record_human_label(state.human_labels_path, state.config, row_id, new, labelled_by=state.reviewer,
                                       row=_label_next_row(state, item, run))
                return where
            current = state.labels.get(split, {}).get(row_id, "")
            item = Correction(row_id, split, "confirm" if new == current else "change", old=current, new=new,
                              reason=f"gold_review: {GOLD_QUEUES.get(item.queue, item.queue)}",
                              reviewer=state.reviewer, time=now())
            with state.lock:
                append_correction(state.corrections_path, item)
            return where
        current = state.labels.get(split, {}).get(row_id)
        weak = {i.row_id: i.current for i in queue.values() if i.split == split and not i.blind}
        current = current if current is not None else weak.get(row_id)
        if current is None or action not in ("confirm", "change", "not_test_row"):
            return PlainTextResponse("Refused: unknown row or action.", 400, headers=HEADERS)
        if split in ("dev", "test") and action == "change":  # gold labels change only through the blind review
            return PlainTextResponse("Refused: gold labels are reviewed blind (source gold_review).", 400,
                                     headers=HEADERS)
        new = new if action == "change" else current if action == "confirm" else ""
        item = Correction(row_id, split, action, old=current, new=new, reason=str(form.get("reason", ""))[:200],
                          reviewer=state.reviewer, time=now())
        with state.lock:
            append_correction(state.corrections_path, item)
        return where

    async def static(request: Request):
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("Not found", 404)
        refusal = _refuse(request, state)
        if refusal is not None:
            return refusal
        return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name], headers=HEADERS)

    routes = [
        Route("/", rules_page),
        Route("/rules/new", editor_page),
        Route("/rules/{name}", editor_page),
        Route("/rules/{name}/delete", delete, methods=["POST"]),
        Route("/preview", preview, methods=["POST"]),
        Route("/save", save, methods=["POST"]),
        Route("/review", review_page),
        Route("/review/decide", decide, methods=["POST"]),
        Route("/static/{name}", static),
    ]
    return Starlette(routes=routes)


def _templates():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def _refuse(request: Request, state: StudioState) -> Response | None:
    """None when the request comes from this session on a local host; else the refusal."""
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
    if host not in LOCAL_HOSTS:
        return PlainTextResponse("Refused: the studio answers on 127.0.0.1 only.", 403)
    token = request.query_params.get("token")
    if token is not None and hmac.compare_digest(token, state.token):
        response = RedirectResponse(request.url.path, status_code=303)
        response.set_cookie(COOKIE, state.token, httponly=True, samesite="strict", path="/")
        return response
    if not hmac.compare_digest(request.cookies.get(COOKIE, ""), state.token):
        return PlainTextResponse("Refused: open the URL with the token that `labelkit studio` printed.", 403)
    return None


async def _read_form(request: Request) -> dict | None:
    """A URL-encoded form as {name: last value} (None when it is not one, or too large)."""
    from urllib.parse import parse_qsl

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc == request.headers.get("host") and parts.scheme in ("http", "https")


def _queue(state: StudioState, run):
    """The review queue of `run` (state.run(): the last build opened light, None before one)."""
    from labelkit.human.label_next import read_pending

    corrections = read_corrections(state.corrections_path)
    data = state.config.data
    return review_items(run, state.rows, state.labels, corrections, id_column=data.id_column,
                        text_column=data.text_column, seed=state.config.task.seed,
                        pending=read_pending(state.human_labels_path, state.config), label_column=data.label_column,
                        detail_columns=[*data.slice_columns, *data.feature_columns])


def _label_next_row(state: StudioState, item, run) -> dict | None:
    """The row a label_next item stands for, from a repair output's label_next.csv (None: it is in the file)."""
    from labelkit.studio.review import read_run_table

    if item.queue != "run":
        return None
    table = read_run_table(run, "label_next.csv")
    if table is None:  # no build yet
        return None
    id_column = state.config.data.id_column
    ids = table[id_column] if id_column in table else table["row_id"]
    record = table[ids.astype(str) == item.row_id].iloc[0].to_dict()
    record.pop("row_id", None)
    record.pop("label", None)
    return record


# ---------------------------------------------------------------- form <-> rule

def _typed(form) -> bool:
    """Has the user typed what the rule matches (for its kind)?"""
    field = CONTENT_FIELD.get(form.get("kind", ""))
    return field is None or bool((form.get(field) or "").strip())  # an unknown kind: let the rule say why


def _lines(text) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


def _rule_from_form(form, state: StudioState):
    kind = form.get("kind", "")
    table = {"name": (form.get("name") or "").strip(), "class": form.get("class", ""), "kind": kind}
    if (form.get("description") or "").strip():
        table["description"] = form.get("description").strip()
    if kind in ("keywords", "phrases"):
        table["words" if kind == "keywords" else "phrases"] = _lines(form.get("words"))
    elif kind == "regex":
        table["pattern"] = form.get("pattern", "")
    elif kind == "column":
        table["condition"] = form.get("condition", "")
    elif kind == "similar":  # like these examples (labelkit/lfs/similar.py)
        table["examples"] = _lines(form.get("examples"))
        if _lines(form.get("unlike")):
            table["unlike"] = _lines(form.get("unlike"))
        for key in ("threshold", "min_precision"):
            if (form.get(key) or "").strip():
                try:
                    table[key] = float(form.get(key))
                except ValueError:
                    from labelkit.errors import LabelingFunctionError

                    raise LabelingFunctionError(f"rule {table['name']!r}: {key} must be a number, "
                                                f"got {form.get(key)!r}.") from None
        if (form.get("model") or "").strip():
            table["model"] = form.get("model").strip()
        if form.get("abstain_below"):
            table["abstain_below"] = True
    elif kind == "spacy":
        try:
            table["patterns"] = json.loads(form.get("patterns") or "null")
        except json.JSONDecodeError as exc:
            from labelkit.errors import LabelingFunctionError

            raise LabelingFunctionError(f"rule {table['name']!r}: token patterns are not valid JSON: {exc}.") from None
    if kind in ("keywords", "regex", "similar"):
        if (form.get("column") or "").strip():
            table["column"] = form.get("column").strip()
        if form.get("case_sensitive") and kind != "similar":
            table["case_sensitive"] = True
    rule = rule_from_table(table)
    check_rule(rule, classes=list(state.classes), columns=state.columns)
    return rule


def _form_values(table: dict) -> dict:
    values = {k: v for k, v in table.items() if isinstance(v, str)}
    words = table.get("words") or table.get("phrases")
    if isinstance(words, list):
        values["words"] = "\n".join(map(str, words))
    if isinstance(table.get("patterns"), list):
        values["patterns"] = json.dumps(table["patterns"])
    if table.get("case_sensitive") in (True, "on", "true"):
        values["case_sensitive"] = "on"
    for key in ("examples", "unlike"):
        if isinstance(table.get(key), list):
            values[key] = "\n".join(map(str, table[key]))
    for key in ("threshold", "min_precision"):
        if isinstance(table.get(key), (int, float)) and not isinstance(table.get(key), bool):
            values[key] = f"{table[key]:g}"
    if table.get("abstain_below") in (True, "on", "true"):
        values["abstain_below"] = "on"
    return values
