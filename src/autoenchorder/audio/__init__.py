"""Audio: decoding, features, embedders, and the processor that makes a model's inputs.

:mod:`.io` decodes (the only code that opens audio), :mod:`.lowlevel` computes the 207
low-level features, :mod:`.embed` holds the embedders, and :mod:`.processor` turns a file (or
the window of it a model reads) into those inputs for ``extract`` and ``predict`` alike.
"""
