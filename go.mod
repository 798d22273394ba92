module github.com/multicontact/multicontact

go 1.26.8

require (
	github.com/neo4j/neo4j-go-driver/v5 v5.28.4 // indirect
	github.com/nyaruka/phonenumbers v1.8.1 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
