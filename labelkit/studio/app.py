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

from labelkit.corrections import Correction, append_correction, now, read_corrections
from labelkit.errors import LabelkitError
from labelkit.lfs.rules import KINDS, RulesConflict, check_rule, delete_rule, rule_from_table, save_rule, to_lf
from labelkit.studio.review import SOURCES, review_items
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

    @guarded
    async def rules_page(request: Request):
        with state.lock:
            state.sync()
            table = state.workspace.table(state.order())
            overall = state.workspace.overall()
        return page("rules.html", table=table, overall=overall, saved=request.query_params.get("saved", ""))

    @guarded
    async def editor_page(request: Request):
        name = request.path_params.get("name")
        with state.lock:
            state.sync()
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
            items = _queue(state)
        except LabelkitError as exc:
            return page("message.html", 400, title="Review queue", message=str(exc))
        source = request.query_params.get("source", "")
        shown = [i for i in items if not source or i.source == source]
        counts = {s: sum(1 for i in items if i.source == s) for s in SOURCES}
        return page("review.html", items=shown, counts=counts, sources=SOURCES, source=source,
                    run=str(state.run_dir), exists=state.run_dir.is_dir())

    @guarded
    async def decide(request: Request, form):
        split, row_id, action = form.get("split", ""), form.get("row_id", ""), form.get("action", "")
        current = state.labels.get(split, {}).get(row_id)
        weak = {i.row_id: i.current for i in _queue(state) if i.split == split}
        current = current if current is not None else weak.get(row_id)
        if current is None or action not in ("confirm", "change", "not_test_row"):
            return PlainTextResponse("Refused: unknown row or action.", 400, headers=HEADERS)
        new = form.get("new", "") if action == "change" else current if action == "confirm" else ""
        if action == "change" and new not in state.classes:
            return PlainTextResponse(f"Refused: {new!r} is not a class.", 400, headers=HEADERS)
        item = Correction(row_id, split, action, old=current, new=new, reason=str(form.get("reason", ""))[:200],
                          reviewer=state.reviewer, time=now())
        with state.lock:
            append_correction(state.corrections_path, item)
        back = form.get("source", "")
        return RedirectResponse(f"/review?source={back}#{split}-{row_id}" if back in SOURCES else "/review",
                                status_code=303, headers=HEADERS)

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


def _queue(state: StudioState):
    corrections = read_corrections(state.corrections_path)
    return review_items(state.run_dir, state.rows, state.labels, corrections,
                        id_column=state.config.data.id_column, text_column=state.config.data.text_column)


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
