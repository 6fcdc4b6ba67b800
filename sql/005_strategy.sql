-- The strategy worker's tables: indicator values per bar, signals with their risk decision,
-- paper positions and fills, and the worker's watermark. Written only by `main.py strategy`.

CREATE TABLE indicators (
    time                timestamptz      NOT NULL,  -- bar start
    symbol              text             NOT NULL,
    bar_ms              integer          NOT NULL,
    open                double precision,
    high                double precision,
    low                 double precision,
    close               double precision,
    volume              double precision NOT NULL,
    buy_volume          double precision NOT NULL,
    sell_volume         double precision NOT NULL,
    delta               double precision NOT NULL,  -- buy - sell volume (aggressor side)
    normalized_delta    double precision,
    trades              integer          NOT NULL,
    vwap                double precision,
    cvd                 double precision,           -- cumulative delta since 00:00 UTC
    rolling_vwap        double precision,
    rsi                 double precision,
    atr                 double precision,
    large_buys          integer          NOT NULL,
    large_sells         integer          NOT NULL,
    book_valid          boolean          NOT NULL,  -- false: no usable book (gap, resync)
    best_bid            double precision,
    best_ask            double precision,
    imbalance           double precision,           -- top-N depth imbalance in [-1, 1]
    band_imbalance      double precision,
    ofi                 double precision,
    bid_wall_price      double precision,
    bid_wall_qty        double precision,
    bid_wall_bps        double precision,
    ask_wall_price      double precision,
    ask_wall_qty        double precision,
    ask_wall_bps        double precision,
    absorption          double precision,
    absorption_side     smallint         NOT NULL,
    absorption_price    double precision,
    panic               double precision,
    panic_score         double precision,
    panic_direction     smallint         NOT NULL,
    liq_sell_notional   double precision NOT NULL,  -- longs liquidated in the bar
    liq_buy_notional    double precision NOT NULL,  -- shorts liquidated in the bar
    cascade_side        smallint         NOT NULL,
    cascade_exhaustion  double precision,
    cascade_exhausted   boolean          NOT NULL,
    fp_buy_imbalances   integer          NOT NULL,
    fp_sell_imbalances  integer          NOT NULL,
    fp_buy_zones        integer          NOT NULL,
    fp_sell_zones       integer          NOT NULL,
    divergence          smallint         NOT NULL,  -- +1 bullish, -1 bearish, 0 none
    mark_price          double precision,
    funding_rate        double precision,
    open_interest       double precision
);
SELECT create_hypertable('indicators', by_range('time', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX indicators_key ON indicators (symbol, time DESC, bar_ms);

CREATE TABLE signals (
    signal_id   uuid             PRIMARY KEY,  -- uuid5 of strategy, symbol, time, side
    time        timestamptz      NOT NULL,     -- the bar close that produced it
    symbol      text             NOT NULL,
    strategy    text             NOT NULL,
    side        text             NOT NULL CHECK (side IN ('LONG', 'SHORT')),
    entry       double precision NOT NULL,
    stop        double precision NOT NULL,
    target1     double precision,
    target2     double precision,
    quality     text             NOT NULL CHECK (quality IN ('HIGH', 'MEDIUM', 'LOW')),
    score       double precision NOT NULL,
    reasons     jsonb            NOT NULL,     -- the indicator values behind it
    decision    text             NOT NULL,     -- 'accepted' or the risk manager's reason
    qty         double precision,
    created_at  timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX signals_by_symbol ON signals (symbol, time DESC);

CREATE TABLE positions (
    position_id    uuid             PRIMARY KEY REFERENCES signals,
    mode           text             NOT NULL,  -- paper
    symbol         text             NOT NULL,
    strategy       text             NOT NULL,
    side           text             NOT NULL,
    qty            double precision NOT NULL,
    remaining      double precision NOT NULL,
    status         text             NOT NULL,  -- pending | open | closed
    stop           double precision NOT NULL,
    targets        double precision[] NOT NULL,
    targets_hit    integer          NOT NULL,
    entry_price    double precision,
    entry_time     timestamptz,
    exit_price     double precision,           -- qty-weighted over all exits
    exit_time      timestamptz,
    exit_reason    text,
    fees           double precision NOT NULL,
    realized_pnl   double precision NOT NULL,  -- net of fees
    updated_at     timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX positions_open ON positions (status) WHERE status <> 'closed';

CREATE TABLE fills (
    fill_id      text             PRIMARY KEY,  -- '<position id>:<kind>'
    position_id  uuid             NOT NULL REFERENCES positions,
    time         timestamptz      NOT NULL,
    symbol       text             NOT NULL,
    side         text             NOT NULL,     -- BUY | SELL
    qty          double precision NOT NULL,
    price        double precision NOT NULL,
    fee          double precision NOT NULL,
    kind         text             NOT NULL      -- entry | stop | breakeven | target1 | target2
);
CREATE INDEX fills_by_position ON fills (position_id);

CREATE TABLE strategy_state (
    worker      text        PRIMARY KEY,
    bar_ms      integer     NOT NULL,
    processed   timestamptz NOT NULL,  -- every bar before this boundary is done and written
    updated_at  timestamptz NOT NULL DEFAULT now()
);
