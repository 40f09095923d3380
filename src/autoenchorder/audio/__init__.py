"""Audio: decoding (:mod:`.io`), low-level features (:mod:`.lowlevel`), embedders (:mod:`.embed`)."""
