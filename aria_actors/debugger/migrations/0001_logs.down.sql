DROP TABLE aria_debugger.log_cursors;
DROP TABLE aria_debugger.logs;
