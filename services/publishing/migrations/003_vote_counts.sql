-- Vote results (API.md: a vote post shows `counts` per option): kept on the post and
-- moved in the same transaction as the vote rows, so they stay exact. Existing vote
-- posts are counted once from their votes here.
ALTER TABLE posts ADD COLUMN vote_counts integer[];
UPDATE posts p SET vote_counts = ARRAY(
    SELECT count(v.user_id)::integer
    FROM generate_series(0, jsonb_array_length(p.attachments -> 'vote' -> 'options') - 1) AS o(i)
    LEFT JOIN votes v ON v.post_id = p.id AND v.option = o.i
    GROUP BY o.i ORDER BY o.i
)
WHERE p.kind = 'vote';
