"""The course book as a JupyterHub service: a small static file server at /services/book/.

The hub starts it as a managed service and passes where to listen (JUPYTERHUB_SERVICE_URL) and
its URL prefix (JUPYTERHUB_SERVICE_PREFIX). The book is public course material, so the service
asks for no login. If the book has not been built, every page says how to build it.
"""

from __future__ import annotations

import argparse
import functools
import html
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Course book not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The course book has not been built yet</h1>
<p>This hub serves the book from <code>{folder}</code>, which does not exist.</p>
<p>Build it from the project folder with</p>
<pre>make book</pre>
<p>then reload this page (the hub need not be restarted).</p>
</body></html>
"""


class BookHandler(SimpleHTTPRequestHandler):
    """Serves the built book below the service's prefix, or the 'not built' page."""

    prefix = "/"
    book_dir = Path(".")

    def translate_path(self, path: str) -> str:
        path = urlparse(path).path
        if path.startswith(self.prefix):
            path = "/" + path[len(self.prefix):]
        return super().translate_path(path)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if not self.book_dir.is_dir():
            body = NOT_BUILT.format(folder=html.escape(str(self.book_dir))).encode()
            # 200, not 503: the hub waits for its services to answer without error at start.
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # quieter than stderr per request
        pass


def make_server(book_dir: Path, url: str, prefix: str) -> ThreadingHTTPServer:
    """A server for `book_dir` at `url` (scheme://host:port) answering below `prefix`."""
    parsed = urlparse(url)
    handler = type("Handler", (BookHandler,), {"prefix": prefix.rstrip("/") + "/",
                                               "book_dir": Path(book_dir)})
    handler = functools.partial(handler, directory=str(book_dir))
    return ThreadingHTTPServer((parsed.hostname or "127.0.0.1", parsed.port or 8080), handler)


def main() -> None:
    """Entry point the hub runs: `python book_service.py --dir BOOK_HTML`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="the book's built HTML folder")
    args = parser.parse_args()
    url = os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8080")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/book/")
    make_server(args.dir.absolute(), url, prefix).serve_forever()


if __name__ == "__main__":
    main()
