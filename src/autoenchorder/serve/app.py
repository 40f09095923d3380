"""The FastAPI app: the page, the API, the limits; :func:`create_app` builds it.

Routes: ``GET /`` (the page), ``POST /api/predict``, ``POST /api/compare``, ``GET /api/model``,
``GET /healthz``, ``GET /docs`` (a local viewer of ``/openapi.json``: FastAPI's own loads
Swagger UI from a CDN, and nothing here may reach outside the machine).

Every failure is a JSON ``{"detail": message}`` with a 4xx status for the request's fault
(413 too large, 415 not audio, 422 unusable audio, 401 without the token) and 503 with
Retry-After when the queue is full; never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from autoenchorder import __version__
from autoenchorder.audio.io import audio_info
from autoenchorder.bundle import load_training_index, read_bundle_files
from autoenchorder.errors import AudioError
from autoenchorder.predict import bundle_paths
from autoenchorder.serve import worker
from autoenchorder.serve.analysis import (
    differences_over_time,
    interval,
    moments,
    paired_summary,
)
from autoenchorder.serve.card import model_card
from autoenchorder.serve.neighbours import TrainingSongs
from autoenchorder.serve.pool import ScoringPool
from autoenchorder.serve.problems import Problem, musician_message, without_paths
from autoenchorder.serve.settings import ServeSettings
from autoenchorder.serve.uploads import MULTIPART_SLACK, BodyLimit, UploadFolder

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
#: Shortest song scored, seconds.
MIN_SECONDS: float = 1.0
#: The page may load and call only this server (the browser enforces it).
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: ServeSettings) -> FastAPI:
    """Build the app for one bundle (or an ensemble); its lifespan starts the scoring processes.

    Parameters
    ----------
    settings : ServeSettings

    Returns
    -------
    FastAPI

    Raises
    ------
    ModelError
        The bundle is missing or its JSON or training index is unreadable.
    """
    paths = [p for b in settings.bundles for p in bundle_paths(b)]
    docs = [read_bundle_files(p)[0] for p in paths]
    index = load_training_index(paths[0])
    songs = TrainingSongs(index) if index is not None else None
    card = model_card(docs, paths, None if index is None else index.training_popularity)
    folder = UploadFolder()
    pool = ScoringPool(
        [str(p) for p in paths],
        workers=settings.workers,
        queue=settings.queue,
        options={"mc_passes": settings.mc_passes, "max_windows": settings.windows},
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(pool.start)
        try:
            yield
        finally:
            await asyncio.to_thread(pool.close)
            folder.remove()

    app = FastAPI(
        title="autoenchorder",
        version=__version__,
        summary="Score a song's popularity (0-100) from its audio; compare two versions.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.state.settings = settings
    app.state.uploads = folder
    app.add_middleware(
        BodyLimit,
        limit_bytes=2 * settings.max_upload_bytes + MULTIPART_SLACK,
        file_limit=settings.max_upload_bytes,
    )
    _add_handlers(app, settings.token)

    async def stored(upload: UploadFile) -> tuple[Path, str]:
        """Store an upload in the private folder and check its length; (path, shown name)."""
        name = shown_name(upload.filename)
        path = await asyncio.to_thread(
            folder.store, upload.file, limit_bytes=settings.max_upload_bytes
        )
        try:
            await asyncio.to_thread(check_length, path, name, settings.max_seconds)
        except BaseException:
            folder.discard(path)
            raise
        return path, name

    def details(answer: dict[str, Any]) -> dict[str, Any]:
        prediction = answer["prediction"]
        score = prediction["popularity"]
        coordinates = answer.get("coordinates")
        return {
            "interval": interval(score, prediction["uncertainty"]),
            "percentile": songs.percentile(score) if songs and score is not None else None,
            "neighbours": songs.nearest(coordinates) if songs and coordinates else None,
            "waveform": answer["waveform"],
            "moments": moments(prediction),
        }

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    @app.get("/healthz", summary="Whether the server is up, and how busy it is")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "workers": pool.workers,
            "busy": pool.in_flight,
            "capacity": pool.capacity,
            "served": pool.served,
        }

    @app.get("/api/model", summary="The model card")
    async def api_model() -> dict[str, Any]:
        return card

    @app.post(
        "/api/predict",
        summary="Score one song",
        description="The same JSON as `autoenchorder predict --json` for one song "
        "(`predictions` holds it; `failures` is empty: a file that cannot be scored is a 4xx). "
        "With `details=true`, also `details`: the 95 % interval, the percentile among the "
        "model's training songs, the nearest training songs, the waveform and the strongest "
        "and weakest moments.",
    )
    async def api_predict(
        file: Annotated[UploadFile, File(description="The song: WAV, FLAC, MP3, OGG ...")],
        details_wanted: Annotated[
            bool, Query(alias="details", description="Add `details`.")
        ] = False,
    ) -> dict[str, Any]:
        path, name = await stored(file)
        try:
            answer = await pool.run(worker.score, str(path), name)
        finally:
            folder.discard(path)
        if "failure" in answer:
            raise unusable(answer["failure"], path, name)
        body: dict[str, Any] = {"predictions": [answer["prediction"]], "failures": []}
        if details_wanted:
            body["details"] = details(answer)
        return body

    @app.post(
        "/api/compare",
        summary="Compare two versions of a song",
        description="Scores `a` and `b` and says which scores higher and by how much "
        "(`difference` = b - a), with the paired uncertainty of the difference (the same "
        "model draws score both), and where in time the versions differ.",
    )
    async def api_compare(
        a: Annotated[UploadFile, File(description="The first version.")],
        b: Annotated[UploadFile, File(description="The second version.")],
    ) -> dict[str, Any]:
        path_a, name_a = await stored(a)
        try:
            path_b, name_b = await stored(b)
        except BaseException:
            folder.discard(path_a)
            raise
        try:
            answer = await pool.run(worker.compare, str(path_a), name_a, str(path_b), name_b)
        finally:
            folder.discard(path_a)
            folder.discard(path_b)
        if "failure" in answer:
            which = answer["which"]
            path, name = (path_a, name_a) if which == "a" else (path_b, name_b)
            problem = unusable(answer["failure"], path, name)
            problem.message = f"Version {which.upper()} ({name}): {problem.message}"
            raise problem
        paired = answer["paired"]
        difference = paired["difference"]
        return {
            "a": {"prediction": answer["a"]["prediction"], "details": details(answer["a"])},
            "b": {"prediction": answer["b"]["prediction"], "details": details(answer["b"])},
            "higher": "b" if difference > 0 else "a" if difference < 0 else "neither",
            "difference": round(difference, 3),
            "difference_sd": paired["sd"],
            "method": paired["method"],
            **paired_summary(difference, paired["sd"]),
            "over_time": differences_over_time(answer["a"], answer["b"]),
        }

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def shown_name(filename: str | None) -> str:
    """The client's file name, shown back only: no folders, no control characters, short."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:120] or "upload"


def check_length(path: Path, name: str, max_seconds: float) -> None:
    """Refuse a song longer than ``max_seconds`` or shorter than :data:`MIN_SECONDS` (422).

    Read from the file's header: nothing is decoded.
    """
    try:
        seconds = audio_info(path).duration
    except AudioError as exc:
        raise unusable(exc.reason, path, name) from None
    if seconds > max_seconds:
        raise Problem(
            422,
            f"The song is {_clock(seconds)} long; this server scores songs up to "
            f"{_clock(max_seconds)}. Upload a shorter version or an excerpt.",
            reason=f"{seconds:.1f} s is longer than the limit of {max_seconds:.0f} s",
        )
    if seconds < MIN_SECONDS:
        raise Problem(
            422,
            musician_message("too short"),
            reason=f"{seconds:.2f} s is shorter than {MIN_SECONDS:g} s",
        )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def unusable(reason: str, path: Path, name: str) -> Problem:
    """The 422 of a file the audio stage refused, in a musician's words."""
    reason = without_paths(str(reason), str(path), name=name)
    return Problem(422, musician_message(reason), reason=reason)


def _add_handlers(app: FastAPI, token: str | None) -> None:
    """Errors as JSON messages; the token gate; the security headers."""

    @app.exception_handler(Problem)
    async def problem(_: Request, exc: Problem) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        missing = sorted(
            {str(e["loc"][-1]) for e in exc.errors() if e.get("type") == "missing" and e["loc"]}
        )
        message = (
            f"No file was sent (expected the form field{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}). Choose an audio file and try again."
            if missing
            else "The request is not what this server expects: send the song as a file "
            "in a multipart form."
        )
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", exc_info=exc)
        return JSONResponse(
            {
                "detail": "Something went wrong on the server while scoring. Your file was not "
                "kept. Try again; if it keeps happening, tell whoever runs this server."
            },
            status_code=500,
        )

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        if token and request.url.path.startswith("/api/") and not authorised(request, token):
            response: Response = JSONResponse(
                {"detail": "This server needs an access token: ask whoever runs it."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def authorised(request: Request, token: str) -> bool:
    """Whether the request carries the token (``Authorization: Bearer T`` or ``X-Token: T``)."""
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    given = given or request.headers.get("x-token", "")
    return secrets.compare_digest(given.encode(), token.encode())
