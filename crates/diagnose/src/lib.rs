//! Pure analysers that turn a cluster snapshot into root-cause findings with evidence and fixes.
