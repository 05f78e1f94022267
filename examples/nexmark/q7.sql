-- Nexmark Query 7: Highest Bid — the bids with the highest price in each 10-second window, as a
-- Window Top-N over TUMBLE 10 s (the Window Top-N Flink documents; the q7.sql of Nexmark joins the bids
-- with the maximum price of their windows instead, and keeps every bid tied at the maximum: here ties
-- are broken as Panes breaks them, by the columns of the row in order).
-- Events: `npm run nexmark` generates them (tools/nexmark/generator.ts), one flat JSON object each.
-- Run it: npm run nexmark -- --queries q7

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

INSERT INTO nexmark_q7
SELECT * FROM (
  SELECT auction, bidder, price, `dateTime`, extra, window_start, window_end,
    ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
) WHERE rownum <= 1;
