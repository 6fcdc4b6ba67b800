-- A repair finds its gap by ref: the data_gaps view joins recorder_events to itself on it and the
-- recorder reads the open gaps through it at start. Only gaps and their repairs carry a ref.
CREATE INDEX recorder_events_ref ON recorder_events (ref) WHERE ref IS NOT NULL;
