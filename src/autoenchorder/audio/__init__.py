"""Audio: decoding (:mod:`.io`), the 207 low-level features (:mod:`.lowlevel`), embedders."""
