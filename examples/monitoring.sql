-- The seed's two pipelines in Flink SQL: the same results as monitoring.pipelines.json.
-- Run it: npm start -- --pipelines examples/monitoring.sql

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

-- per-host average and maximum CPU over 5-minute windows
INSERT INTO `cpu-avg-5m`
SELECT window_start, window_end, host, AVG(`value`) AS `avg`, MAX(`value`) AS `max`, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE metrics, DESCRIPTOR(ts), INTERVAL '5' MINUTES))
WHERE metric = 'cpu'
GROUP BY window_start, window_end, host;

-- per-host maximum memory over 60-minute windows sliding every minute
INSERT INTO `mem-max-60m`
SELECT window_start, window_end, host, MAX(`value`) AS `max`, COUNT(*) AS n
FROM TABLE(HOP(TABLE metrics, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '60' MINUTES))
WHERE metric = 'mem'
GROUP BY window_start, window_end, host;
