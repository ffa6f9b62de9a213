-- Online LLM judges (docs/evaluators.md). A job per evaluator version and
-- target: the primary key is what makes a target judged once per version,
-- whatever the number of workers and crashes. Workers claim due jobs with
-- FOR UPDATE SKIP LOCKED under a lease; a job whose lease ran out (its
-- worker died) is due again. The verdict itself goes to verdict.evaluations
-- (channel 'judge', source 'llm_judge') with an id derived from the same key,
-- so a job finished twice after a lost lease still stores one verdict.

CREATE TABLE verdict.judge_jobs (
  evaluator         text        NOT NULL,
  evaluator_version text        NOT NULL,
  -- 'span': trace_id/span_id; 'trace': trace_id; 'conversation': conversation_id.
  target            text        NOT NULL,
  target_kind       text        NOT NULL CHECK (target_kind IN ('span', 'trace', 'conversation')),
  trace_id          text,
  span_id           text,
  conversation_id   text,
  status            text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'skipped')),
  -- Not judged before: the target's last arrival plus the settle time, or a retry's backoff.
  not_before        timestamptz NOT NULL,
  attempts          integer     NOT NULL DEFAULT 0,
  lease_owner       text,
  lease_until       timestamptz,
  last_error        text,
  verdict_id        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  PRIMARY KEY (evaluator, evaluator_version, target)
);

-- The two ways a job becomes due; claims read only these (a few rows at any
-- size of the finished history).
CREATE INDEX judge_jobs_queued ON verdict.judge_jobs (not_before) WHERE status = 'queued';
CREATE INDEX judge_jobs_leased ON verdict.judge_jobs (lease_until) WHERE status = 'running';
-- Dashboards: what finished lately, by evaluator.
CREATE INDEX judge_jobs_finished ON verdict.judge_jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Calls and tokens spent per evaluator and window ('minute' or 'day',
-- starting at window_start, UTC), shared by every worker on the database so
-- that several processes keep one budget.
CREATE TABLE verdict.judge_usage (
  evaluator    text        NOT NULL,
  period       text        NOT NULL CHECK (period IN ('minute', 'day')),
  window_start timestamptz NOT NULL,
  calls        bigint      NOT NULL DEFAULT 0,
  tokens       bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (evaluator, period, window_start)
);
