-- Cascaded window aggregations over the demo's events (npm start's producer: cpu and mem per host), in
-- Flink SQL: a window aggregation, then two queries over its rows.
-- Run it: npm start -- --pipelines examples/cascade.sql
-- or:     npx panes generate --events 20000 --hosts 10 --output events.jsonl
--         npx panes replay --pipelines examples/cascade.sql --input events.jsonl --output results.jsonl

CREATE TABLE metrics (
  host STRING,
  metric STRING,
  `value` DOUBLE,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '30' SECOND
) WITH (
  'connector' = 'kinesis',
  'stream' = 'panes-events',
  'format' = 'json'
);

-- per-host CPU samples and average of each minute. A view that aggregates is a pipeline of its own
-- (its results are published like any other's), whose rows the queries after it may read; selecting
-- window_time keeps the rows' time attribute, and the window's bounds are renamed, as Flink asks, so
-- that a window over the rows does not clash with them.
CREATE VIEW cpu_1m AS
SELECT window_start AS minute_start, window_end AS minute_end, window_time, host,
       COUNT(*) AS samples, AVG(`value`) AS avg_cpu
FROM TABLE(TUMBLE(TABLE metrics, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE metric = 'cpu'
GROUP BY window_start, window_end, window_time, host;

-- in each minute, how many hosts sent each number of samples: the rows regrouped in their own window
INSERT INTO `hosts-by-samples-1m`
SELECT minute_start, minute_end, samples, COUNT(*) AS hosts
FROM cpu_1m
GROUP BY minute_start, minute_end, samples;

-- per host over 5 minutes: the minute rows windowed again on their time attribute
INSERT INTO `cpu-5m`
SELECT window_start, window_end, host, SUM(samples) AS samples, MAX(avg_cpu) AS busiest_minute
FROM TABLE(TUMBLE(TABLE cpu_1m, DESCRIPTOR(window_time), INTERVAL '5' MINUTES))
GROUP BY window_start, window_end, host;
