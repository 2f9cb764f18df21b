"""Support for the order tests: moto with atomic requests, and a MetaTrader 5 `order_send` stand-in."""
from __future__ import annotations
import logging, socket, threading
from collections import namedtuple

logging.getLogger("werkzeug").setLevel(logging.ERROR)   # moto's server logs every request otherwise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AtomicMotoServer:
    """moto's HTTP server (real HTTP, real boto3 clients) serving one request at a time.

    moto's DynamoDB backend evaluates a ConditionExpression and then writes without a lock, so under
    the threaded server two concurrent conditional writes on one item can both succeed: measured here,
    4 lost updates in 1,000 contended updates with 8 threads, and updates > possible. DynamoDB itself
    evaluates a condition and writes atomically; serialising requests restores that guarantee, so the
    concurrency tests test axia and not moto's locking. Non-concurrent tests use conftest's `moto_server`.
    """
    def __init__(self): self.port, self._server = _free_port(), None

    @property
    def url(self) -> str: return f"http://127.0.0.1:{self.port}"

    def start(self) -> "AtomicMotoServer":
        from werkzeug.serving import make_server
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        app, lock = DomainDispatcherApplication(create_backend_app), threading.Lock()

        def serialised(environ, start_response):
            with lock: return list(app(environ, start_response))

        self._server = make_server("127.0.0.1", self.port, serialised, threaded=True, request_handler=MotoRequestHandler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server: self._server.shutdown()


# --- MetaTrader 5 -----------------------------------------------------------------------------------
# Shapes follow the MetaTrader5 package: order_send(request: dict) -> OrderSendResult | None, with the
# result's fields in the package's order; symbol_info_tick -> Tick | None; last_error() -> (code, text).
OrderSendResult = namedtuple("OrderSendResult", "retcode deal order volume price bid ask comment request_id retcode_external request")
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")

RETCODE_COMMENTS = {10004: "Requote", 10006: "Request rejected", 10008: "Request placed", 10009: "Request executed",
                    10010: "Request executed partially", 10012: "Request canceled by timeout",
                    10018: "Market is closed", 10031: "No connection with the trade server"}
REQUIRED = {"action", "symbol", "volume", "type", "price"}


class Mt5OrderStandIn:
    """A terminal that answers `order_send` with scripted retcodes (then DONE), like MetaTrader5 does."""
    TRADE_ACTION_DEAL, TRADE_ACTION_PENDING = 1, 5
    ORDER_TYPE_BUY, ORDER_TYPE_SELL, ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_SELL_LIMIT = 0, 1, 2, 3
    ORDER_TYPE_BUY_STOP, ORDER_TYPE_SELL_STOP = 4, 5
    ORDER_TIME_GTC, ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 0, 1, 2
    TRADE_RETCODE_REQUOTE, TRADE_RETCODE_REJECT, TRADE_RETCODE_PLACED, TRADE_RETCODE_DONE = 10004, 10006, 10008, 10009
    TRADE_RETCODE_DONE_PARTIAL, TRADE_RETCODE_CONNECTION = 10010, 10031

    def __init__(self, script=(), symbols=("USDJPY", "EURUSD"), bid=150.00, ask=150.02):
        self.script, self.symbols, self.bid, self.ask = list(script), set(symbols), bid, ask
        self.requests, self._ticket, self._error = [], 5_000_000, (1, "Success")

    def symbol_info_tick(self, symbol):
        if symbol not in self.symbols:
            self._error = (-1, f"Terminal: Call failed, unknown symbol {symbol}")
            return None
        return Tick(1_700_000_000, self.bid, self.ask, 0.0, 0, 1_700_000_000_000, 6, 0.0)

    def last_error(self): return self._error

    def order_send(self, request: dict):
        if missing := REQUIRED - set(request): raise TypeError(f"order_send: missing {sorted(missing)}")
        if not isinstance(request["volume"], float) or not isinstance(request["price"], float):
            raise TypeError("order_send: volume and price must be float")
        self.requests.append(dict(request))
        code = self.script.pop(0) if self.script else 10009
        if code is None:                      # what the package does when the terminal is gone
            self._error = (-10004, "No IPC connection")
            return None
        self._ticket += 1
        done = code in (10009, 10010)
        if code == 10004: self.bid, self.ask = self.bid + 0.01, self.ask + 0.01   # the broker moved the price
        vol = request["volume"] / 2 if code == 10010 else (request["volume"] if done else 0.0)
        return OrderSendResult(code, self._ticket if done else 0, self._ticket if code in (10008, 10009, 10010) else 0,
                               vol, request["price"] if done else 0.0, self.bid, self.ask,
                               RETCODE_COMMENTS.get(code, "error"), 1, 0, request)


def claim_in_process(path: str, ids: list[str]) -> list[str]:
    "Run in a child process: try to claim (PENDING → SUBMITTED) every order; returns the ids this process won."
    from axia.orders import ConcurrentUpdate
    from axia.tiers.sqlite import SqliteOrderRepository
    repo, won = SqliteOrderRepository(path), []
    for oid in ids:
        try:
            repo.update_status(oid, "SUBMITTED", expected_version=1); won.append(oid)
        except ConcurrentUpdate: pass
    return won
