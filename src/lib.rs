//! rwsgi facade (placeholder while core lands).
