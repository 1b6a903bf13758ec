-- The transactional outbox of 0001 is gone: nothing delivered its rows (aria_queue's enqueue
-- joins the caller's transaction instead: a job inserted on the caller's connection exists if and
-- only if that transaction commits).
DROP TABLE aria_data.outbox;
