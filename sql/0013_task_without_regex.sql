-- verdict.normalise_task without its regular expression where it cannot
-- change anything: text of printable ASCII (U+0020 to U+007E) with no two
-- spaces in a row has no white space to collapse but single spaces, so
-- lower case and trimming give what the regular expression gives. That is
-- most requests a run starts with, and the regular expression cost several
-- times the rest of a run's summary merge. Anything else (a tab, a line
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
