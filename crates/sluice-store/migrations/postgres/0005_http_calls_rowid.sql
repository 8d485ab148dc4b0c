-- (SQLite only: its http_calls table drops AUTOINCREMENT. Nothing changes on PostgreSQL.)
SELECT 1;
