-- verdict.add_counts, which adds two {"source": {"polarity": n}} objects,
-- runs several times for every verdict written (the run's and the
-- conversation's verdicts_by_source, and verdict.sum_counts over a group of
-- verdicts, whose step it is). As a SQL function it planned and ran a
-- query of set-returning functions and aggregates per call, some 100-300 µs,
-- most of PostgreSQL's time per verdict at ingest. This version walks the
-- (usually one-entry) second object and updates the first in place: the
-- same result for every input the summaries hold.
CREATE OR REPLACE FUNCTION verdict.add_counts(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  r jsonb := COALESCE(a, '{}'::jsonb);
  source text;
  polarities jsonb;
  polarity text;
BEGIN
  IF b IS NULL OR b = '{}'::jsonb THEN
    RETURN r;
  END IF;
  FOR source, polarities IN SELECT key, value FROM jsonb_each(b) LOOP
    IF NOT r ? source THEN
      r := r || jsonb_build_object(source, polarities);
      CONTINUE;
    END IF;
    FOR polarity IN SELECT jsonb_object_keys(polarities) LOOP
      r := jsonb_set(r, ARRAY[source, polarity],
        to_jsonb(COALESCE((r #>> ARRAY[source, polarity])::bigint, 0) + (polarities ->> polarity)::bigint));
    END LOOP;
  END LOOP;
  RETURN r;
END
$$;
