// The probe reads cards; judging what it read (chain, identity, possession) is CardJudgement's,
// shared with the service, which has no PC/SC.
@_exported import CardJudgement
