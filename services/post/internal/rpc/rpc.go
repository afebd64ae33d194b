// Package rpc is the gRPC face of the post service: it converts between
// postv1 messages and the post package; domain errors become gRPC
// statuses through the services' one table (platform/apperr).
package rpc

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cobraspace/cobraspace/platform/apperr"
	"github.com/cobraspace/cobraspace/platform/grpcauth"
	postv1 "github.com/cobraspace/cobraspace/proto/cobraspace/post/v1"
	"github.com/cobraspace/cobraspace/services/post/internal/post"
)

// AnonymousMethods are the RPCs callable without an access token.
func AnonymousMethods() []string {
	return []string{
		postv1.PostService_ListPosts_FullMethodName,
		postv1.PostService_GetPost_FullMethodName,
		postv1.PostService_ListCategories_FullMethodName,
		postv1.PostService_ListTags_FullMethodName,
	}
}

// Server implements postv1.PostServiceServer on a post.Service.
type Server struct {
	postv1.UnimplementedPostServiceServer
	svc  *post.Service
	errs apperr.Translator
}

// New returns a Server for svc.
func New(svc *post.Service, logger *slog.Logger) *Server {
	return &Server{svc: svc, errs: apperr.Translator{Domain: "post.cobraspace", Logger: logger}}
}

// ListPosts implements postv1.PostServiceServer.
func (s *Server) ListPosts(ctx context.Context, req *postv1.ListPostsRequest) (*postv1.ListPostsResponse, error) {
	ordering := post.OrderDefault
	switch req.GetOrdering() {
	case postv1.Ordering_ORDERING_NEWEST:
		ordering = post.OrderNewest
	case postv1.Ordering_ORDERING_MOST_HITS:
		ordering = post.OrderMostHits
	}
	posts, next, err := s.svc.ListPosts(ctx, post.ListRequest{
		Search:     req.GetSearch(),
		CategoryID: req.GetCategoryId(),
		Tag:        req.GetTag(),
		WriterID:   req.GetWriterId(),
		Ordering:   ordering,
		Limit:      int(req.GetLimit()),
		Cursor:     req.GetCursor(),
	})
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &postv1.ListPostsResponse{Posts: make([]*postv1.Post, len(posts)), NextCursor: next}
	for i, p := range posts {
		resp.Posts[i] = postToProto(p)
	}
	return resp, nil
}

// GetPost implements postv1.PostServiceServer.
func (s *Server) GetPost(ctx context.Context, req *postv1.GetPostRequest) (*postv1.Post, error) {
	p, err := s.svc.GetPost(ctx, req.GetId(), req.GetCountHit())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return postToProto(p), nil
}

// CreatePost implements postv1.PostServiceServer.
func (s *Server) CreatePost(ctx context.Context, req *postv1.CreatePostRequest) (*postv1.Post, error) {
	p, err := s.svc.CreatePost(ctx, grpcauth.UserID(ctx), post.Input{
		Title: req.GetTitle(), Content: req.GetContent(), CategoryID: req.GetCategoryId(), Tags: req.GetTags(),
	})
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return postToProto(p), nil
}

// UpdatePost implements postv1.PostServiceServer.
func (s *Server) UpdatePost(ctx context.Context, req *postv1.UpdatePostRequest) (*postv1.Post, error) {
	p, err := s.svc.UpdatePost(ctx, grpcauth.UserID(ctx), req.GetId(), req.GetUpdateMask(), post.Input{
		Title: req.GetTitle(), Content: req.GetContent(), CategoryID: req.GetCategoryId(), Tags: req.GetTags(),
	})
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return postToProto(p), nil
}

// DeletePost implements postv1.PostServiceServer.
func (s *Server) DeletePost(ctx context.Context, req *postv1.DeletePostRequest) (*postv1.DeletePostResponse, error) {
	if err := s.svc.DeletePost(ctx, grpcauth.UserID(ctx), req.GetId()); err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &postv1.DeletePostResponse{}, nil
}

// CreatePostRoom implements postv1.PostServiceServer.
func (s *Server) CreatePostRoom(ctx context.Context, req *postv1.CreatePostRoomRequest) (*postv1.CreatePostRoomResponse, error) {
	roomID, err := s.svc.CreatePostRoom(ctx, grpcauth.UserID(ctx), req.GetPostId(), req.GetName())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &postv1.CreatePostRoomResponse{RoomId: roomID}, nil
}

// ListCategories implements postv1.PostServiceServer.
func (s *Server) ListCategories(ctx context.Context, _ *postv1.ListCategoriesRequest) (*postv1.ListCategoriesResponse, error) {
	cats, err := s.svc.Categories(ctx)
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &postv1.ListCategoriesResponse{Categories: make([]*postv1.Category, len(cats))}
	for i, c := range cats {
		resp.Categories[i] = &postv1.Category{Id: c.ID, Name: c.Name}
	}
	return resp, nil
}

// CreateCategory implements postv1.PostServiceServer.
func (s *Server) CreateCategory(ctx context.Context, req *postv1.CreateCategoryRequest) (*postv1.Category, error) {
	c, err := s.svc.CreateCategory(ctx, grpcauth.UserID(ctx), req.GetName())
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	return &postv1.Category{Id: c.ID, Name: c.Name}, nil
}

// ListTags implements postv1.PostServiceServer.
func (s *Server) ListTags(ctx context.Context, req *postv1.ListTagsRequest) (*postv1.ListTagsResponse, error) {
	tags, err := s.svc.Tags(ctx, int(req.GetLimit()))
	if err != nil {
		return nil, s.errs.Status(ctx, err)
	}
	resp := &postv1.ListTagsResponse{Tags: make([]*postv1.Tag, len(tags))}
	for i, t := range tags {
		resp.Tags[i] = &postv1.Tag{Id: t.ID, Name: t.Name, PostCount: t.PostCount}
	}
	return resp, nil
}

func postToProto(p post.Post) *postv1.Post {
	tags := make([]*postv1.Tag, len(p.Tags))
	for i, t := range p.Tags {
		tags[i] = &postv1.Tag{Id: t.ID, Name: t.Name}
	}
	return &postv1.Post{
		Id:           p.ID,
		Title:        p.Title,
		Content:      p.Content,
		CategoryId:   p.CategoryID,
		CategoryName: p.CategoryName,
		Tags:         tags,
		WriterId:     p.WriterID,
		Hit:          p.Hit,
		RoomId:       p.RoomID,
		CreatedAt:    timestamppb.New(p.CreatedAt),
		UpdatedAt:    timestamppb.New(p.UpdatedAt),
	}
}
