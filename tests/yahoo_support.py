"""A local Yahoo Finance for the real yfinance library: an HTTPS-intercepting proxy on 127.0.0.1 that answers the
URLs yfinance 1.x fetches (cookie, crumb, v8 chart, quote summary) with Yahoo-shaped JSON.

yfinance is pointed at it the supported way: a curl_cffi session (what yfinance itself uses) whose `proxy` is this
server and whose `verify` is this server's test CA. curl sends `CONNECT query2.finance.yahoo.com:443`, the server
answers 200, terminates TLS with a certificate for Yahoo's host names, and serves the request. Nothing in yfinance is
patched except its process-wide caches, which the `yahoo` fixture resets so tests do not depend on their order.

Bars come from `axia.testing.FakeYahoo._history` (the stand-in's price path at the server's `now`), encoded the way
Yahoo's chart API sends them: `timestamp` epoch seconds, `indicators.quote[0]` arrays, FX volume 0.
"""
from __future__ import annotations
import contextlib, datetime as dt, json, socket, ssl, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from axia.testing import FakeYahoo, _YahooSaid

YAHOO_HOSTS = ["fc.yahoo.com", "query1.finance.yahoo.com", "query2.finance.yahoo.com", "guce.yahoo.com",
               "consent.yahoo.com", "finance.yahoo.com"]
CRUMB = "Qx7mB2kPz.a"
NOT_FOUND_CHART = {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}
CURRENCY = {"USDJPY=X": "JPY", "EURUSD=X": "USD", "EURJPY=X": "JPY", "GBPUSD=X": "USD", "GBPJPY=X": "JPY"}


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    "A throwaway CA and a server certificate for Yahoo's host names: (ca.pem, cert.pem, key.pem)."
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = dt.datetime.now(dt.timezone.utc)
    def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("axia test CA")).issuer_name(name("axia test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("query2.finance.yahoo.com")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in YAHOO_HOSTS]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def chart_json(ticker: str, bars: pd.DataFrame, interval: str, now: pd.Timestamp, tz: str = "Europe/London") -> dict:
    "Yahoo's v8 chart answer for `bars` (FakeYahoo's frame: exchange-tz index, Open … Volume)."
    utc = pd.DatetimeIndex(bars.index).tz_convert("UTC") if len(bars) else pd.DatetimeIndex([], tz="UTC")
    ts = [int(t.timestamp()) for t in utc]
    local_now = now.tz_convert(tz)
    offset = int(local_now.utcoffset().total_seconds())
    zone = local_now.tzname()
    day0 = local_now.normalize()
    def next_day(a): return (a.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(tz)    # 23 or 25 h on DST days
    def period(a): return {"timezone": zone, "start": int(a.timestamp()), "end": int(next_day(a).timestamp()) - 60, "gmtoffset": offset}
    last = float(bars["Close"].iloc[-1]) if len(bars) else 1.0
    meta = {"currency": CURRENCY.get(ticker, "USD"), "symbol": ticker, "exchangeName": "CCY", "fullExchangeName": "CCY",
            "instrumentType": "CURRENCY", "firstTradeDate": 1070236800, "regularMarketTime": int(now.timestamp()),
            "hasPrePostMarketData": False, "gmtoffset": offset, "timezone": zone, "exchangeTimezoneName": tz,
            "regularMarketPrice": last, "fiftyTwoWeekHigh": last * 1.1, "fiftyTwoWeekLow": last * 0.9,
            "regularMarketDayHigh": last * 1.002, "regularMarketDayLow": last * 0.998, "regularMarketVolume": 0,
            "longName": f"{ticker[:3]}/{ticker[3:6]}", "shortName": f"{ticker[:3]}/{ticker[3:6]}",
            "chartPreviousClose": last, "previousClose": last, "scale": 3, "priceHint": 4 if "JPY" not in ticker else 3,
            "currentTradingPeriod": {k: period(day0) for k in ("pre", "regular", "post")},
            "dataGranularity": interval, "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]}
    if interval[-1] in "mh":   # intraday answers carry each exchange day's regular session
        days = sorted({t.normalize() for t in pd.DatetimeIndex(bars.index)}) if len(bars) else []
        meta["tradingPeriods"] = [[{**period(d), "end": int(next_day(d).timestamp())}] for d in days]
    def col(c): return [None if np.isnan(v) else float(v) for v in bars[c]]
    quote = {"open": col("Open"), "high": col("High"), "low": col("Low"), "close": col("Close"),
             "volume": [int(v) for v in bars["Volume"]]}
    result = {"meta": meta, "timestamp": ts, "indicators": {"quote": [quote]}}
    if interval[-1] not in "mh": result["indicators"]["adjclose"] = [{"adjclose": col("Adj Close")}]
    if not ts: result = {"meta": meta, "indicators": {"quote": [{}]}}      # Yahoo omits timestamp on an empty range
    return {"chart": {"result": [result], "error": None}}


class YahooServer:
    """Yahoo's endpoints behind an intercepting proxy. `mode`: 'ok' or 'rate_limited' (HTTP 429 from query1/query2);
    `rate_limit_next`: how many next chart requests get 429."""
    def __init__(self, now: pd.Timestamp, directory: Path, tickers=tuple(CURRENCY)):
        self.now, self.mode, self.rate_limit_next = pd.Timestamp(now), "ok", 0
        self.yahoo = FakeYahoo(now=self.now, tickers=tickers)
        self.requests: list[tuple[str, str, str, dict]] = []    # (method, host, path, query) as received
        self.ca, cert, key = make_tls(directory)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._tls.set_alpn_protocols(["http/1.1"])
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def proxy(self) -> str: return f"http://127.0.0.1:{self.port}"

    def start(self) -> "YahooServer": self._thread.start(); return self
    def stop(self): self._httpd.shutdown(); self._httpd.server_close(); self._thread.join(5)

    def session_options(self, proxy: str | None = None) -> dict:
        "Options for a curl_cffi session that reaches this server (or `proxy`, e.g. a refused port)."
        return dict(impersonate="chrome", proxy=proxy or self.proxy, verify=str(self.ca), timeout=10)

    def session(self, proxy: str | None = None):
        from curl_cffi import requests as curl_requests
        return curl_requests.Session(**self.session_options(proxy))

    def paths(self, host=None) -> list[str]:
        return [p for m, h, p, q in self.requests if host is None or h == host]

    def answer(self, method: str, host: str, path: str, query: dict) -> tuple[int, dict, bytes]:
        "(status, headers, body) for one request."
        self.requests.append((method, host, path, query))
        q = {k: v[0] for k, v in query.items()}
        chart = path.startswith("/v8/finance/chart/")
        if host.startswith("query") and (self.mode == "rate_limited" or (chart and self.rate_limit_next > 0)):
            self.rate_limit_next -= chart and self.rate_limit_next > 0
            return 429, {"Content-Type": "text/plain"}, b"Too Many Requests\r\n"
        if host == "fc.yahoo.com":     # the cookie Yahoo sets on every visitor, on a 404 page
            expires = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=365)).strftime("%a, %d %b %Y %H:%M:%S GMT")
            return 404, {"Content-Type": "text/html", "Set-Cookie": f"A3=d=AQABBKx7axia&S=AQAAAtest; Expires={expires}; "
                         "Max-Age=31557600; Domain=.yahoo.com; Path=/; SameSite=None; Secure; HttpOnly"}, b"<html>404</html>"
        if path == "/v1/test/getcrumb":
            return 200, {"Content-Type": "text/plain;charset=utf-8"}, CRUMB.encode()
        if path.startswith("/v8/finance/chart/"):
            return self._chart(path.rsplit("/", 1)[1].upper(), q)
        if path.startswith("/v10/finance/quoteSummary/"):
            t = path.rsplit("/", 1)[1].upper()
            if t not in self.yahoo.known:
                return _json(404, {"quoteSummary": {"result": None, "error": {"code": "Not Found",
                                                                                "description": "Quote not found for symbol: " + t}}})
            return _json(200, {"quoteSummary": {"result": [{"quoteType": {"symbol": t, "quoteType": "CURRENCY",
                                                                          "exchangeTimezoneName": "Europe/London"}}], "error": None}})
        if path == "/v7/finance/quote":
            t = q.get("symbols", "").upper()
            res = [{"symbol": t, "quoteType": "CURRENCY", "exchangeTimezoneName": "Europe/London"}] if t in self.yahoo.known else []
            return _json(200, {"quoteResponse": {"result": res, "error": None}})
        if path.startswith("/ws/fundamentals-timeseries/v1/finance/timeseries/"):   # info's trailingPegRatio
            t = path.rsplit("/", 1)[1].upper()
            return _json(200, {"timeseries": {"result": [{"meta": {"symbol": [t], "type": [q.get("type", "")]}}], "error": None}})
        if host == "guce.yahoo.com":
            return 200, {"Content-Type": "text/html"}, b"<html><body>consent</body></html>"   # no csrfToken: yfinance gives up
        return 404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"

    def _chart(self, ticker: str, q: dict) -> tuple[int, dict, bytes]:
        if ticker not in self.yahoo.known: return _json(404, NOT_FOUND_CHART)
        interval = q.get("interval", "1d")
        if "range" in q:      # yfinance's timezone probe: range=1d&interval=1d
            end, start = self.now, self.now - pd.Timedelta(days=1)
        else:
            start, end = (pd.Timestamp(int(q[k]), unit="s", tz="UTC") for k in ("period1", "period2"))
        try: bars = self.yahoo._history(ticker, start, end, interval)
        except _YahooSaid as e:     # Yahoo's 422 for ranges outside its limits
            return _json(422, {"chart": {"result": None, "error": {"code": "Unprocessable Entity",
                                                                      "description": str(e).split(": ", 1)[-1]}}})
        return _json(200, chart_json(ticker, bars, interval, self.now, self.yahoo.tz))


def _json(status, body) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(body).encode()


def _handler(server: YahooServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        host = None

        def log_message(self, *args): pass

        def do_CONNECT(self):
            self.host = self.path.split(":")[0]
            self.send_response(200, "Connection established"); self.end_headers()
            self.wfile.flush()
            self.connection = server._tls.wrap_socket(self.connection, server_side=True)
            self.rfile, self.wfile = self.connection.makefile("rb"), self.connection.makefile("wb")

        def _serve(self):
            url = urlsplit(self.path)
            host = self.host or url.hostname or (self.headers.get("Host") or "").split(":")[0]
            if n := int(self.headers.get("Content-Length") or 0): self.rfile.read(n)
            status, headers, body = server.answer(self.command, host, url.path, parse_qs(url.query))
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items(): self.send_header(k, v)
            self.end_headers(); self.wfile.write(body); self.wfile.flush()

        def do_GET(self): self._serve()
        def do_POST(self): self._serve()
    return Handler


def closed_port() -> int:
    "A 127.0.0.1 port nothing listens on (connections are refused)."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def reset_yfinance(monkeypatch, tmp_path, tz_info_fetches: int = 0):
    "Fresh yfinance process state: no cookie/crumb, no cached responses, empty tz cache, the info fallback counter."
    import yfinance, yfinance.base, yfinance.cache, yfinance.data
    yfinance.data.SingletonMeta._instances.pop(yfinance.data.YfData, None)
    yfinance.data.YfData.cache_get.cache_clear()
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", tz_info_fetches)
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", _MemoryCache())
    monkeypatch.setattr(yfinance.cache._CookieCacheManager, "_Cookie_cache", _MemoryCache())
    return yfinance


class _MemoryCache:
    "yfinance's tz/cookie cache interface, in memory (the real one is a sqlite file in the user's cache dir)."
    def __init__(self): self.d = {}
    def lookup(self, key): return self.d.get(key)
    def store(self, key, value):
        if value is None: self.d.pop(key, None)
        else: self.d[key] = value if not hasattr(value, "items") else {"cookie": value, "age": pd.Timestamp.now()}


@contextlib.contextmanager
def local_yahoo(tmp_path, monkeypatch, now="2026-11-04 15:37"):
    "A running local Yahoo whose 'now' is `now` (default: a Wednesday afternoon), with yfinance's process state reset."
    reset_yfinance(monkeypatch, tmp_path)
    server = YahooServer(pd.Timestamp(now, tz="UTC"), tmp_path).start()
    try: yield server
    finally: server.stop()
