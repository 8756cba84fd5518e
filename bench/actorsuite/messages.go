package actorsuite

// The messages of big, chameneos and bank, the same for every system.

// BigMsg is a ping or a pong from actor From; From BigStart starts an
// actor, From BigQuery asks it for its [BigCount] after the measured part.
type BigMsg struct {
	Ping bool
	From int
}

// The values of BigMsg.From that name no actor.
const (
	BigStart = -1
	BigQuery = -2
)

// ChamMsg is a chameneos message; From is a creature's index.
type ChamMsg struct {
	Kind  ChamKind
	Color Color
	From  int
}

// ChamKind says what a ChamMsg is.
type ChamKind uint8

// Chameneos messages.
const (
	ChamStart   ChamKind = iota // to a creature: go to the mall
	ChamMeet                    // to the mall: From wants to meet, with its colour
	ChamMatched                 // to the first of a pair: From is the second, with its colour
	ChamChange                  // to the second: From is the first, with its old colour
	ChamExit                    // to a creature: no meetings are left
	ChamCount                   // after the measured part: how many messages did you receive?
)

// BankMsg is a bank message: to the teller, start, a transfer's end or a
// query of how many ended; to an account, a debit (Amount, passed on to
// account To), a credit or a balance query.
type BankMsg struct {
	Kind       BankKind
	Amount, To int
}

// BankKind says what a BankMsg is.
type BankKind uint8

// Bank messages.
const (
	BankStart BankKind = iota
	BankDone
	BankDebit
	BankCredit
	BankBalance
	BankEnded // to the teller, after the measured part: how many transfers ended?
)
