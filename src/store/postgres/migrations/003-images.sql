-- Golden images (src/image/): image records, bake requests and channel pointers.
CREATE TABLE images (
  id TEXT PRIMARY KEY,
  seq BIGSERIAL NOT NULL,
  grp TEXT NOT NULL,
  layer TEXT NOT NULL CHECK (layer IN ('middleware', 'app')),
  name TEXT NOT NULL,
  parent TEXT,
  recipe_hash TEXT,
  release TEXT,
  version TEXT,
  bake_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'saving', 'active', 'killed')),
  size BIGINT,
  created_at BIGINT NOT NULL,
  baked_at BIGINT,
  bake_ms BIGINT,
  error TEXT
);
CREATE INDEX images_bake_key ON images (bake_key, state);
CREATE INDEX images_group ON images (grp, layer, created_at);

CREATE TABLE image_bakes (
  id TEXT PRIMARY KEY,
  seq BIGSERIAL NOT NULL,
  grp TEXT NOT NULL,
  release TEXT,
  reason TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'skipped', 'failed')),
  step TEXT,
  image TEXT,
  middleware_image TEXT,
  detail TEXT,
  error TEXT,
  output TEXT,
  requested_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT
);
CREATE INDEX image_bakes_group ON image_bakes (grp, requested_at);

CREATE TABLE image_channels (
  name TEXT PRIMARY KEY,
  image TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
