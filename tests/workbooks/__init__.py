"""Tests of reading and writing files: case exports, forms, registers and their clients."""
