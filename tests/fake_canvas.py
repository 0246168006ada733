"""A small fake Canvas REST server on 127.0.0.1, for `autograder publish --lms canvas`.

It implements the endpoints canvasapi 3.x calls for publishing, as Canvas answers them:

- ``GET /api/v1/courses/:course`` and ``GET /api/v1/courses/:course/assignments/:assignment``;
- ``GET .../assignments/:a/submissions`` (``include[]=submission_comments``), paginated with
  a ``Link: <...>; rel="next"`` header, a few submissions per page;
- ``GET .../submissions/:user`` and ``PUT .../submissions/:user`` (``submission[posted_grade]``,
  ``comment[file_ids][]``, ``comment[text_comment]``);
- the comment file upload in its three steps: ``POST .../submissions/:user/comments/files``
  (``name``, ``size``) answers an upload slot (``upload_url``, ``upload_params``); ``POST`` to
  that URL (multipart, without the token) answers ``303`` to a confirmation URL; ``GET`` there
  answers the file (``id``, ``display_name``, ``size``, ``url``).

Every API request must carry ``Authorization: Bearer <token>`` (else 401 with
``WWW-Authenticate``, as Canvas). Everything received is recorded; faults can be injected
per request: an HTTP status with a body (Canvas's rate limit is 403 "Rate Limit Exceeded"),
a dropped connection (before or after the request took effect), or a slow answer.
"""

import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

RATE_LIMITED = "403 Forbidden (Rate Limit Exceeded)"


@dataclass
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    authorization: str | None
    form: list[tuple[str, str]] = field(default_factory=list)
    file: tuple[str, bytes] | None = None  # (file name, content) of a multipart upload


@dataclass
class Fault:
    method: str
    pattern: str  # a regex the path must match (search)
    times: int
    kind: str  # "status", "drop", "drop-after" (the request takes effect, no answer), "slow"
    status: int = 500
    body: str = ""
    seconds: float = 0.0
    field: str = ""  # only requests whose form has this field (e.g. "comment[file_ids][]")


class FakeCanvas:
    """The server's state. ``students`` are Canvas user ids of the course's students."""

    def __init__(self, token: str, course_id: int = 101, assignment_id: int = 202):
        self.token, self.course_id, self.assignment_id = token, course_id, assignment_id
        self.lock = threading.Lock()
        self.reset([])

    def reset(self, students, points_possible=14, grading_type="points", page_size=2):
        with self.lock:
            self.points_possible, self.grading_type = points_possible, grading_type
            self.page_size = page_size
            self.submissions = {int(u): self._new_submission(int(u)) for u in students}
            self.files: dict[int, dict] = {}
            self.slots: dict[str, dict] = {}
            self.received: list[Received] = []
            self.faults: list[Fault] = []
            self.steps: list[tuple[str, int]] = []  # the upload's steps as they happened
            self.frozen: set[int] = set()  # users whose grade a PUT answers but does not change
            self.next_id = 5000

    def _new_submission(self, user: int) -> dict:
        return {
            "id": 90000 + user,
            "user_id": user,
            "assignment_id": self.assignment_id,
            "score": None,
            "grade": None,
            "workflow_state": "submitted",
            "submission_comments": [],
        }

    def fault(self, method, pattern, times=1, kind="status", status=500, body="", **more):
        with self.lock:
            self.faults.append(Fault(method, pattern, times, kind, status, body, **more))

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    # -- what tests read ---------------------------------------------------------------------
    def grades(self) -> dict[int, float | None]:
        return {u: s["score"] for u, s in self.submissions.items()}

    def comment_files(self, user: int) -> list[str]:
        return [
            a["display_name"]
            for c in self.submissions[user]["submission_comments"]
            for a in c["attachments"]
        ]

    def changes(self) -> list[Received]:
        """Requests that change something (anything but GET)."""
        return [r for r in self.received if r.method != "GET"]


class Handler(BaseHTTPRequestHandler):
    server: "Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_PUT(self):
        self._handle("PUT")

    def do_POST(self):
        self._handle("POST")

    # -- plumbing ----------------------------------------------------------------------------
    def _send(
        self, status: int, payload=None, headers: dict | None = None, text: str | None = None
    ):
        body = text.encode() if text is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _read(self) -> tuple[list[tuple[str, str]], tuple[str, bytes] | None]:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {kind}\r\n\r\n".encode() + body
            )
            form, upload = [], None
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                filename = part.get_param("filename", header="content-disposition")
                content = part.get_payload(decode=True) or b""
                if filename is not None:
                    upload = (filename, content)
                else:
                    form.append((name, content.decode()))
            return form, upload
        return parse_qsl(body.decode(), keep_blank_values=True), None

    def _handle(self, method: str) -> None:
        fake: FakeCanvas = self.server.fake
        parts = urlsplit(self.path)
        form, upload = self._read()
        received = Received(
            method,
            parts.path,
            parse_qsl(parts.query, keep_blank_values=True),
            self.headers.get("Authorization"),
            form,
            upload,
        )
        with fake.lock:
            fake.received.append(received)
            fault = next(
                (
                    f
                    for f in fake.faults
                    if f.times > 0
                    and f.method == method
                    and re.search(f.pattern, parts.path)
                    and (not f.field or any(k == f.field for k, _ in form))
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
        if fault is not None and fault.kind == "status":
            self._send(fault.status, text=fault.body or f"status {fault.status}")
            return
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        api = parts.path.startswith("/api/v1/") and "/create_success" not in parts.path
        if api and received.authorization != f"Bearer {fake.token}":
            self._send(401, {"errors": [{"message": "Invalid access token."}]},
                       {"WWW-Authenticate": 'Bearer realm="canvas-lms"'})  # fmt: skip
            return
        with fake.lock:
            status, payload, headers = self._route(fake, method, parts, received)
        if fault is not None and fault.kind == "drop-after":
            self.close_connection = True
            return
        self._send(status, payload, headers)

    # -- the endpoints -----------------------------------------------------------------------
    def _route(self, fake: FakeCanvas, method: str, parts, received: Received):
        path = parts.path
        base = f"/api/v1/courses/{fake.course_id}"
        assignment = f"{base}/assignments/{fake.assignment_id}"
        host = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
        if method == "GET" and path == base:
            return 200, {"id": fake.course_id, "name": "CNN 2025"}, None
        if method == "GET" and path == assignment:
            return (
                200,
                {
                    "id": fake.assignment_id,
                    "course_id": fake.course_id,
                    "name": "nn-review",
                    "points_possible": fake.points_possible,
                    "grading_type": fake.grading_type,
                },
                None,
            )
        if method == "GET" and path == f"{assignment}/submissions":
            query = dict(received.query)
            page = int(query.get("page", 1))
            users = sorted(fake.submissions)
            chunk = users[(page - 1) * fake.page_size : page * fake.page_size]
            headers = {}
            if page * fake.page_size < len(users):
                link = f"{host}{path}?include[]=submission_comments&page={page + 1}&per_page=100"
                headers["Link"] = f'<{link}>; rel="next"'
            return 200, [self._shown(fake, fake.submissions[u], received) for u in chunk], headers
        found = re.fullmatch(rf"{assignment}/submissions/(\d+)(/comments/files)?", path)
        if found:
            user = int(found[1])
            if user not in fake.submissions:
                return (
                    404,
                    {"errors": [{"message": "The specified resource does not exist."}]},
                    None,
                )
            submission = fake.submissions[user]
            if method == "GET" and not found[2]:
                return 200, self._shown(fake, submission, received), None
            if method == "PUT" and not found[2]:
                try:
                    return 200, self._update(fake, submission, received.form), None
                except ValueError as error:
                    return 400, {"errors": [{"message": str(error)}]}, None
            if method == "POST" and found[2]:
                form = dict(received.form)
                slot = f"slot{fake._id()}"
                fake.slots[slot] = {
                    "user": user,
                    "name": form.get("name"),
                    "size": form.get("size"),
                }
                fake.steps.append(("slot", user))
                return (
                    200,
                    {
                        "upload_url": f"{host}/files/upload/{slot}",
                        "upload_params": {"key": slot, "filename": form.get("name")},
                    },
                    None,
                )
        found = re.fullmatch(r"/files/upload/(slot\d+)", path)
        if method == "POST" and found and found[1] in fake.slots and received.file:
            slot = fake.slots.pop(found[1])
            name, content = received.file
            file_id = fake._id()
            fake.files[file_id] = {
                "id": file_id,
                "display_name": slot["name"] or name,
                "filename": slot["name"] or name,
                "size": len(content),
                "content": content,
                "confirmed": False,
                "user": slot["user"],
            }
            fake.steps.append(("upload", slot["user"]))
            location = f"{host}/api/v1/files/{file_id}/create_success?uuid=u{file_id}"
            return 303, {}, {"Location": location}
        found = re.fullmatch(r"/api/v1/files/(\d+)/create_success", path)
        if method == "GET" and found and int(found[1]) in fake.files:
            file = fake.files[int(found[1])]
            if dict(received.query).get("uuid") != f"u{file['id']}":
                return 400, {"errors": [{"message": "bad uuid"}]}, None
            file["confirmed"] = True
            fake.steps.append(("confirm", file["user"]))
            return 200, self._file(file, host), None
        return 404, {"errors": [{"message": "The specified resource does not exist."}]}, None

    def _file(self, file: dict, host: str) -> dict:
        keys = ("id", "display_name", "filename", "size")
        return {k: file[k] for k in keys} | {"url": f"{host}/files/{file['id']}/download"}

    def _shown(self, fake: FakeCanvas, submission: dict, received: Received) -> dict:
        shown = {k: v for k, v in submission.items() if k != "submission_comments"}
        if ("include[]", "submission_comments") in received.query:
            shown["submission_comments"] = submission["submission_comments"]
        return shown

    def _update(self, fake: FakeCanvas, submission: dict, form: list[tuple[str, str]]) -> dict:
        data = dict(form)
        attachments = []
        for file_id in [int(v) for k, v in form if k == "comment[file_ids][]"]:
            file = fake.files.get(file_id)
            if file is None or not file["confirmed"] or file["user"] != submission["user_id"]:
                raise ValueError(f"file {file_id} cannot be attached")
            attachments.append({k: file[k] for k in ("id", "display_name", "filename", "size")})
        if "submission[posted_grade]" in data and submission["user_id"] not in fake.frozen:
            grade = data["submission[posted_grade]"]
            if grade.endswith("%"):
                score = round(float(grade[:-1]) * fake.points_possible / 100, 2)
            else:
                score = float(grade)
            submission["score"], submission["grade"] = score, grade
        text = data.get("comment[text_comment]", "")
        if attachments:
            fake.steps.append(("attach", submission["user_id"]))
        if attachments or text:
            submission["submission_comments"].append(
                {"id": fake._id(), "author_id": 1, "comment": text, "attachments": attachments}
            )
        return self._shown(fake, submission, Received("PUT", "", [], None))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeCanvas


def start(token: str) -> tuple[Server, threading.Thread]:
    server = Server(("127.0.0.1", 0), Handler)
    server.fake = FakeCanvas(token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
