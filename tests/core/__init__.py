"""Pure, fast tests of the framework's rules: no workspace, no files, no CLI."""
