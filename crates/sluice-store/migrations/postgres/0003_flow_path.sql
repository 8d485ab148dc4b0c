-- Where a run's flow file was when the run was created (absolute path), so
-- `sluice runs resume` can load it again; NULL for runs recorded before.
ALTER TABLE runs ADD COLUMN flow_path TEXT;
