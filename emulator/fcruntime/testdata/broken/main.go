// Command broken does not compile: it lets the tests check that Build
// reports go build's output.
package main

func main() {
	doesNotExist()
}
