DROP TABLE aria_debugger.spans;
