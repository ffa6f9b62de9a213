-- Human review: the items of the review queues (the `review:` section of the
-- config file, docs/review.md). An item is one run a queue asks a person to
-- judge, with the reason it was queued; the verdicts a reviewer gives are
-- ordinary rows of verdict.evaluations (source 'reviewer', channel 'review').

CREATE TABLE verdict.review_items (
  -- A hash of (queue, trace_id): a run is queued at most once per queue,
  -- whichever receiver or sweep sees it first.
  id           text        PRIMARY KEY,
  queue        text        NOT NULL,
  trace_id     text        NOT NULL,
  -- Why it is there: a sampled run, or one of the queue's always_when reasons.
  reason       text        NOT NULL CHECK (reason IN ('sampled', 'negative_user_verdict', 'rule_hit', 'judge_disagreement', 'judge_near_threshold', 'calibration')),
  -- The verdict that made the reason true, in words, for the reviewer.
  detail       text,
  -- Reasons first, then sampled runs, each oldest first.
  priority     smallint    NOT NULL,
  state        text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done', 'skipped')),
  reviewer     text,
  lease_until  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  claimed_at   timestamptz,
  finished_at  timestamptz,
  -- The ids of the verdicts the reviewer submitted (verdict.evaluations.id), and the submission's
  -- fingerprint, so a repeated submit answers the same.
  verdict_ids  jsonb,
  CHECK ((state = 'claimed') = (lease_until IS NOT NULL))
);
-- The next item to claim: the open items of a queue in claim order. Done and
-- skipped items, which grow without bound, are not in it.
CREATE INDEX review_items_open ON verdict.review_items (queue, priority, created_at, id) WHERE state IN ('pending', 'claimed');
-- The queues a run is in (the page's ad-hoc view, the filler's "already queued").
CREATE INDEX review_items_trace ON verdict.review_items (trace_id);

-- Per queue and UTC day: items queued (the daily cap, raised atomically) and
-- finished, so the page's progress never counts the items table.
CREATE TABLE verdict.review_days (
  queue    text    NOT NULL,
  day      date    NOT NULL,
  queued   integer NOT NULL DEFAULT 0,
  done     integer NOT NULL DEFAULT 0,
  skipped  integer NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, day)
);
