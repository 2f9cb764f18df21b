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
# A trading stand-in for the MetaTrader5 package (axia.testing.FakeMT5 serves bars; trading lives here,
# next to the tests that use it). Shapes follow MetaTrader5 5.0.6231 and MetaQuotes' Python docs
# (https://www.mql5.com/en/docs/python_metatrader5): order_send(request) -> OrderSendResult | None;
# history_deals_get / history_orders_get(date_from, date_to, group=...) or (ticket=...) or (position=...)
# -> tuple of TradeDeal / TradeOrder, () when nothing matches, None on error; orders_get(symbol=, group=,
# ticket=) -> active orders; terminal_info() -> TerminalInfo; last_error() -> (code, text). Named-tuple
# fields are in the package's order. Dates are converted like the real core: datetime via .timestamp()
# (so a naive one is the machine's local time), int/float as epoch seconds, anything else TypeError;
# the epoch is compared with the terminal's server-time records.
import fnmatch
from datetime import datetime

OrderSendResult = namedtuple("OrderSendResult", "retcode deal order volume price bid ask comment request_id retcode_external request")
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
TradeOrder = namedtuple("TradeOrder", "ticket time_setup time_setup_msc time_done time_done_msc time_expiration type type_time "
                        "type_filling state magic position_id position_by_id reason volume_initial volume_current price_open "
                        "sl tp price_current price_stoplimit symbol comment external_id")
TradeDeal = namedtuple("TradeDeal", "ticket order time time_msc type entry magic position_id reason volume price commission swap "
                       "profit fee symbol comment external_id")
TerminalInfo = namedtuple("TerminalInfo", "community_account community_connection connected dlls_allowed trade_allowed "
                          "tradeapi_disabled email_enabled ftp_enabled notifications_enabled mqid build maxbars codepage "
                          "ping_last community_balance retransmission company name language path data_path commondata_path")

# MetaQuotes' texts ("Trade Server Return Codes"; the package's last_error texts, from the wheel's _core)
RETCODE_COMMENTS = {10004: "Requote", 10006: "Request rejected", 10008: "Request placed", 10009: "Request executed",
                    10010: "Request executed partially", 10012: "Request canceled by timeout",
                    10018: "Market is closed", 10031: "No connection with the trade server"}
IPC_ERRORS = {-10000: "IPC call failed", -10001: "IPC send failed", -10002: "IPC recv failed",
              -10003: "IPC initialize failed", -10004: "No IPC connection", -10005: "IPC timeout",
              -2: "Terminal: Invalid params", -1: "Terminal: Call failed"}
REQUIRED = {"action", "symbol", "volume", "type", "price"}
ORDER_STATE_PLACED, ORDER_STATE_CANCELED, ORDER_STATE_FILLED, ORDER_STATE_REJECTED = 1, 2, 4, 5


def _epoch(d) -> float:
    "A date argument as the real core reads it."
    if isinstance(d, datetime): return d.timestamp()
    if isinstance(d, (int, float)) and not isinstance(d, bool): return float(d)
    raise TypeError(f"date must be datetime or int, not {type(d).__name__}")


class Mt5OrderStandIn:
    """A terminal for trading: `order_send` answers from `script`, then DONE; the trade server's own
    records (history deals and orders, resting orders) follow what it really did.

    Script items: a retcode (int); `None` (returns None, `last_error()` = `error`); an exception
    (raised from order_send, as mt5linux raises EOFError when the bridge dies); or a tuple
    `(answer, fate)` where `fate` says what the server really did while the answer was lost: "filled",
    "partial", "placed", "rejected" (a history order without deal) or "lost" (never arrived, the
    default for in-doubt answers). `history` may be "ok", "none" (history calls return None),
    "raise" (they raise EOFError) or "disconnected" (terminal_info().connected is False).
    """
    TRADE_ACTION_DEAL, TRADE_ACTION_PENDING = 1, 5
    ORDER_TYPE_BUY, ORDER_TYPE_SELL, ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_SELL_LIMIT = 0, 1, 2, 3
    ORDER_TYPE_BUY_STOP, ORDER_TYPE_SELL_STOP = 4, 5
    ORDER_TIME_GTC, ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 0, 1, 2
    TRADE_RETCODE_REQUOTE, TRADE_RETCODE_REJECT, TRADE_RETCODE_PLACED, TRADE_RETCODE_DONE = 10004, 10006, 10008, 10009
    TRADE_RETCODE_DONE_PARTIAL, TRADE_RETCODE_TIMEOUT, TRADE_RETCODE_CONNECTION = 10010, 10012, 10031

    def __init__(self, script=(), symbols=("USDJPY", "EURUSD"), bid=150.00, ask=150.02, server_offset_s=2 * 3600,
                 now_epoch=1_764_167_400, error=(-10004, "No IPC connection"), history="ok", deal_comment=None):
        self.script, self.symbols, self.bid, self.ask = list(script), set(symbols), bid, ask
        self.offset, self.now, self.error, self.history = server_offset_s, now_epoch, error, history
        self.deal_comment = deal_comment       # some servers write their own comment on deals
        self.requests, self._ticket, self._error = [], 5_000_000, (1, "Success")
        self.deals, self.history_orders, self.active_orders, self.history_calls = [], [], [], []

    # --- terminal ---
    def last_error(self): return self._error

    def terminal_info(self):
        return TerminalInfo(False, False, self.history != "disconnected", False, True, False, False, False, False,
                            False, 5200, 100_000, 0, 20_000, 0.0, 0.0, "Stand-in Broker", "MetaTrader 5", "English",
                            "C:\\MT5", "C:\\MT5", "C:\\MT5\\Common")

    def symbol_info_tick(self, symbol):
        if symbol not in self.symbols:
            self._error = (-1, f"Terminal: Call failed, unknown symbol {symbol}")
            return None
        return Tick(self.now, self.bid, self.ask, 0.0, 0, self.now * 1000, 6, 0.0)

    # --- the trade server's records ---
    def _next(self) -> int:
        self._ticket += 1
        return self._ticket

    def _record(self, request, fate: str) -> tuple[int, int]:
        "What the server did with `request`: (order ticket, deal ticket or 0)."
        order, t = self._next(), int(self.now + self.offset)          # server time, as MT5 writes it
        vol, deal = request["volume"], 0
        state = {"filled": ORDER_STATE_FILLED, "partial": ORDER_STATE_CANCELED, "placed": ORDER_STATE_PLACED,
                 "rejected": ORDER_STATE_REJECTED}[fate]
        filled = vol if fate == "filled" else vol / 2 if fate == "partial" else 0.0
        rec = TradeOrder(order, t, t * 1000, t, t * 1000, 0, request["type"], 0, request.get("type_filling", 0), state,
                         request.get("magic", 0), order, 0, 3, vol, vol - filled, request["price"], request.get("sl", 0.0),
                         request.get("tp", 0.0), request["price"], 0.0, request["symbol"], request.get("comment", ""), "")
        (self.active_orders if fate == "placed" else self.history_orders).append(rec)
        if filled:
            deal = self._next()
            self.deals.append(TradeDeal(deal, order, t, t * 1000, request["type"] % 2, 0, request.get("magic", 0), order, 3,
                                        filled, request["price"], 0.0, 0.0, 0.0, 0.0, request["symbol"],
                                        request.get("comment", "") if self.deal_comment is None else self.deal_comment, ""))
        return order, deal

    def order_send(self, request: dict):
        if missing := REQUIRED - set(request): raise TypeError(f"order_send: missing {sorted(missing)}")
        if not isinstance(request["volume"], float) or not isinstance(request["price"], float):
            raise TypeError("order_send: volume and price must be float")
        self.requests.append(dict(request))
        item = self.script.pop(0) if self.script else 10009
        answer, fate = item if isinstance(item, tuple) else (item, None)
        if isinstance(answer, BaseException) or (isinstance(answer, type) and issubclass(answer, BaseException)):
            if fate and fate != "lost": self._record(request, fate)
            raise answer
        if answer is None:                     # what the package does when it loses the terminal
            if fate and fate != "lost": self._record(request, fate)
            self._error = self.error
            return None
        code = answer
        if code == 10004: self.bid, self.ask = self.bid + 0.01, self.ask + 0.01   # the broker moved the price
        fate = fate or {10009: "filled", 10010: "partial", 10008: "placed"}.get(code, "lost")
        order, deal = self._record(request, fate) if fate != "lost" else (0, 0)
        shown = code not in (10012, 10031)     # an answer that was lost carries no ticket
        done = code in (10009, 10010)
        vol = request["volume"] / 2 if code == 10010 else (request["volume"] if done else 0.0)
        self._error = (1, "Success")
        return OrderSendResult(code, deal if shown else 0, order if shown else 0, vol, request["price"] if done else 0.0,
                               self.bid, self.ask, RETCODE_COMMENTS.get(code, "error"), 1, 0, request)

    def _read(self, name, rows, date_from, date_to, group, ticket, position, key="ticket"):
        self.history_calls.append((name, date_from, date_to, group, ticket, position))
        if self.history == "raise": raise EOFError("connection closed by peer")
        if self.history == "none":
            self._error = (-10002, "IPC recv failed")
            return None
        if ticket is not None: return tuple(r for r in rows if getattr(r, key) == ticket)
        if position is not None: return tuple(r for r in rows if r.position_id == position)
        if date_from is None or date_to is None: raise TypeError(f"{name}: date_from and date_to, or ticket=, or position=")
        lo, hi = _epoch(date_from), _epoch(date_to)
        pats = [p for p in (group or "*").split(",")]
        ok = lambda sym: any(fnmatch.fnmatchcase(sym, p) for p in pats if not p.startswith("!")) and \
            not any(fnmatch.fnmatchcase(sym, p[1:]) for p in pats if p.startswith("!"))
        time_of = (lambda r: r.time) if name == "history_deals_get" else (lambda r: r.time_setup)
        return tuple(r for r in rows if lo <= time_of(r) <= hi and ok(r.symbol))

    def history_deals_get(self, date_from=None, date_to=None, group=None, ticket=None, position=None):
        return self._read("history_deals_get", self.deals, date_from, date_to, group, ticket, position, key="order")

    def history_orders_get(self, date_from=None, date_to=None, group=None, ticket=None, position=None):
        return self._read("history_orders_get", self.history_orders, date_from, date_to, group, ticket, position)

    def orders_get(self, symbol=None, group=None, ticket=None):
        if self.history == "raise": raise EOFError("connection closed by peer")
        if self.history == "none":
            self._error = (-10002, "IPC recv failed")
            return None
        rows = self.active_orders
        if ticket is not None: rows = [r for r in rows if r.ticket == ticket]
        if symbol is not None: rows = [r for r in rows if r.symbol == symbol]
        if group is not None: rows = [r for r in rows if fnmatch.fnmatchcase(r.symbol, group)]
        return tuple(rows)


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
