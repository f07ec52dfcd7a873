-- Interaction with posts (PRODUCT.md rule 6): comments, likes, votes. The counters on
-- posts move in the same transaction as these rows, so they stay exact.
CREATE TABLE comments (
    id         bigint PRIMARY KEY,
    post_id    bigint NOT NULL REFERENCES posts (id),
    author_id  bigint NOT NULL,
    text       text NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX comments_of_post ON comments (post_id, id) WHERE deleted_at IS NULL;

CREATE TABLE likes (
    post_id    bigint NOT NULL REFERENCES posts (id),
    user_id    bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE votes (
    post_id    bigint NOT NULL REFERENCES posts (id),
    user_id    bigint NOT NULL,
    option     smallint NOT NULL,
    voted_at   timestamptz NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

-- Copied-content detection (rule 11): each post's MinHash signature, and its LSH bands
-- indexed so that near-copies are found without scanning all posts.
CREATE TABLE fingerprints (
    post_id    bigint PRIMARY KEY REFERENCES posts (id),
    account_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    signature  bigint[] NOT NULL
);

CREATE TABLE fingerprint_bands (
    band       smallint NOT NULL,
    hash       bigint NOT NULL,
    post_id    bigint NOT NULL REFERENCES fingerprints (post_id),
    created_at timestamptz NOT NULL
);
CREATE INDEX fingerprint_bands_lookup ON fingerprint_bands (band, hash, created_at);
