-- Window Top-N over the demo's events (npm start's producer: cpu and mem per host), in Flink SQL.
-- Run it: npm start -- --pipelines examples/top-hosts.sql
-- The dashboard charts each row number of a ranking over the window ends (#1, #2, #3) and lists the
-- newest rankings' rows with their host.

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

-- after a window aggregation: the three hosts with the highest average CPU of each 5-minute window
INSERT INTO `busiest-hosts-5m`
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY avg_cpu DESC) AS rownum
  FROM (
    SELECT window_start, window_end, host, AVG(`value`) AS avg_cpu, COUNT(*) AS samples
    FROM TABLE(TUMBLE(TABLE metrics, DESCRIPTOR(ts), INTERVAL '5' MINUTES))
    WHERE metric = 'cpu'
    GROUP BY window_start, window_end, host
  )
) WHERE rownum <= 3;

-- over a window's rows: the two highest memory readings of each 10-minute window, with their host
INSERT INTO `peak-mem-10m`
SELECT * FROM (
  SELECT host, `value`, window_start, window_end,
    ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY `value` DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE metrics, DESCRIPTOR(ts), INTERVAL '10' MINUTES))
  WHERE metric = 'mem'
) WHERE rownum <= 2;
