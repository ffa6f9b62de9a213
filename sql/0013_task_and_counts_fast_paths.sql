-- Two fast paths for work the run merge and the verdict insert do per run.
--
-- verdict.normalise_task without its regular expression where it cannot
-- change anything: text of printable ASCII (U+0020 to U+007E) with no two
-- spaces in a row has no white space to collapse but single spaces, so
-- lower case and trimming give what the regular expression gives. That is
-- most requests a run starts with, and the regular expression cost about
-- three times the rest of the run merge's step that works out a new run's
-- task. Anything else (a tab, a line
-- break, a double space, any other character: non-ASCII white space depends
-- on the locale) takes the regular expression, as before; the results, and
-- so the tasks already stored, are the same.
--
-- Both tests are plain scans: a search for one character outside the range
-- stops at the first, and a literal search for two spaces. (An anchored
-- match of the whole text, `~ '^[ -~]*$'`, measured ten times slower than
-- the search for its complement.)
CREATE OR REPLACE FUNCTION verdict.normalise_task(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN $1 !~ '[^ -~]' AND strpos($1, '  ') = 0 THEN NULLIF(btrim(lower($1)), '')
  ELSE NULLIF(btrim(regexp_replace(lower($1), '\s+', ' ', 'g')), '')
END;

-- verdict.add_counts with nothing to add to: the second object is the
-- sum. That is the first step of verdict.sum_counts over every group of
-- verdicts (its state starts at '{}'), and most groups are one verdict, so
-- most calls at ingest ran the loop below, a query each, to copy it.
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
  IF r = '{}'::jsonb THEN
    RETURN b;
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
