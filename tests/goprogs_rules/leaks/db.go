package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
)

// fakeDriver is an in-memory database/sql driver: every query returns 3 rows.
type fakeDriver struct{}

type fakeConn struct{ scratch []byte }

type fakeStmt struct{}

type fakeRows struct{ left int }

func (fakeDriver) Open(string) (driver.Conn, error) {
	return &fakeConn{scratch: make([]byte, 4<<10)}, nil // a connection's buffers
}

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return fakeStmt{}, nil }
func (c *fakeConn) Close() error                        { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }

func (fakeStmt) Close() error                               { return nil }
func (fakeStmt) NumInput() int                              { return -1 }
func (fakeStmt) Exec([]driver.Value) (driver.Result, error) { return driver.RowsAffected(1), nil }
func (fakeStmt) Query([]driver.Value) (driver.Rows, error)  { return &fakeRows{left: 3}, nil }

func (r *fakeRows) Columns() []string { return []string{"id"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.left == 0 {
		return io.EOF
	}
	r.left--
	dest[0] = int64(r.left)
	return nil
}

func init() { sql.Register("fake", fakeDriver{}) }

// --- db-open-per-request: a new *sql.DB (pool) per lookup, never closed.

func lookupCustomer(i int) {
	db, err := sql.Open("fake", "inventory") // BUG: per request, and no db.Close()
	if err != nil {
		panic(err)
	}
	var id int
	_ = db.QueryRow("select id from customers").Scan(&id)
}

// --- sql-rows-not-closed: Rows from a shared pool are abandoned after the first row.

var (
	ordersDB  *sql.DB
	serverCtx context.Context // the process's lifetime context
)

func setupOrders() {
	var err error
	ordersDB, err = sql.Open("fake", "orders")
	if err != nil {
		panic(err)
	}
	serverCtx, _ = context.WithCancel(context.Background())
}

func firstOrder(i int) {
	rows, err := ordersDB.QueryContext(serverCtx, "select id from orders")
	if err != nil {
		panic(err)
	}
	if rows.Next() { // BUG: returns without rows.Close()
		var id int
		_ = rows.Scan(&id)
	}
}

func init() {
	register("db-open-per-request", nil, lookupCustomer)
	register("sql-rows-not-closed", setupOrders, firstOrder)
}
