"""The roster of key emitting entities: entities, their facilities, inclusion by the emissions
threshold, roster changes with history, and the roster import from CSV and Excel files."""
