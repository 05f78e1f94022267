-- Nexmark Query 11: User Sessions — how many bids did a user make in each session they were active?
-- Session windows with a 10-second gap per bidder. The query is q11.sql of Nexmark as written (its
-- INSERT INTO nexmark_q11, whose blackhole sink table is left out: the name is the pipeline name), as
-- it reads since 2024-12, with `dateTime` in backquotes.
-- Events: `npm run nexmark` generates them (tools/nexmark/generator.ts), one flat JSON object each.
-- Run it: npm run nexmark -- --queries q11

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

INSERT INTO nexmark_q11
SELECT
    B.bidder,
    count(*) as bid_count,
    SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) as starttime,
    SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) as endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND);
