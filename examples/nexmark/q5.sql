-- Nexmark Query 5: Hot Items — which auctions have seen the most bids in the last period? Bids
-- counted per auction over HOP windows of 10 seconds sliding every 2 seconds, then the auction with
-- the most bids in each window, as a Window Top-N after a window aggregation (the form Flink documents).
-- The q5.sql of Nexmark joins the counts with the maximum of their windows instead, and keeps every
-- auction tied at the maximum: here ties are broken as Panes breaks them, by the key (the auction id,
-- compared as text).
-- Events: `npm run nexmark` generates them (tools/nexmark/generator.ts), one flat JSON object each.
-- Run it: npm run nexmark -- --queries q5

-- The datagen table of Nexmark (ddl_gen.sql) holds person, auction and bid as nested ROWs; Panes reads
-- flat (or dotted) JSON fields, so each event carries the fields of its kind at top level, beside
-- event_type (0 person, 1 auction, 2 bid). Only the columns the bid view reads are declared.
-- dateTime is written without backquotes, as the ddl files of Nexmark wrote it until 2024-12 (they
-- quote it since, for Calcite 1.34): Panes reads it as a name either way.
CREATE TABLE datagen (
  event_type INT,
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  dateTime TIMESTAMP(3),
  extra STRING,
  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
  'connector' = 'kinesis',
  'format' = 'json'
);

-- The bid view of Nexmark (ddl_views.sql), flattened: there it reads bid.auction, bid.bidder, … of the
-- nested ROW; here the same names at top level.
CREATE VIEW bid AS
SELECT auction, bidder, price, channel, url, dateTime, extra FROM datagen WHERE event_type = 2;

INSERT INTO nexmark_q5
SELECT auction, num, window_start, window_end, rownum FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rownum
  FROM (
    SELECT window_start, window_end, auction, COUNT(*) AS num
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, auction
  )
) WHERE rownum <= 1;
